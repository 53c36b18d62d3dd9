import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Link, useLocation } from './router';
import { ProjectsPage } from './pages/projects';
import { ProjectPage } from './pages/project';
import { CreateJobPage } from './pages/create-job';
import { JobPage } from './pages/job';
import { StartRunPage } from './pages/start-run';
import { RunsPage } from './pages/runs';
import { RunPage } from './pages/run';
import { CompartmentPicker } from './compartment';
import { currentSession, serverInfo, type ConsoleUser } from './api';
import { LoginPage, UserMenu } from './login';
import './styles.css';

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to the job runs</Link>
      </p>
    </section>
  );
}

function route(path: string, query: URLSearchParams) {
  let m: RegExpExecArray | null;
  // The landing page is the runs list, live: what is running and what just failed is what the console is most
  // often opened for. Jobs are made from a project (Projects).
  if (path === '/' || path === '/runs') return <RunsPage query={query} />;
  if (path === '/projects') return <ProjectsPage />;
  if ((m = /^\/projects\/([^/]+)\/jobs\/new$/.exec(path))) return <CreateJobPage projectId={decodeURIComponent(m[1])} />;
  if ((m = /^\/projects\/([^/]+)$/.exec(path))) return <ProjectPage projectId={decodeURIComponent(m[1])} />;
  if ((m = /^\/jobs\/([^/]+)\/run$/.exec(path))) return <StartRunPage jobId={decodeURIComponent(m[1])} />;
  if ((m = /^\/jobs\/([^/]+)$/.exec(path))) return <JobPage jobId={decodeURIComponent(m[1])} />;
  if ((m = /^\/runs\/([^/]+)$/.exec(path))) return <RunPage runId={decodeURIComponent(m[1])} />;
  return <NotFound />;
}

/** Who is logged in: a user, 'none' (authentication is off: no login), 'login' (a login is needed), or loading. */
type Who = ConsoleUser | 'none' | 'login' | null;

function App() {
  const [who, setWho] = useState<Who>(null);
  useEffect(() => {
    void (async () => {
      const user = await currentSession().catch(() => null);
      if (user) return setWho(user);
      const info = await serverInfo().catch(() => null);
      setWho(info?.authentication ? 'login' : 'none');
    })();
  }, []);
  if (who === null) return null;
  if (who === 'login') return <LoginPage onLogin={setWho} />;
  return <Console user={who === 'none' ? null : who} />;
}

function Console({ user }: { user: ConsoleUser | null }) {
  const { path, query } = useLocation();
  const section = path === '/' || path.startsWith('/runs') ? 'runs' : 'projects';
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          dsjobs
        </Link>
        <nav aria-label="Main">
          <Link to="/" aria-current={section === 'runs' ? 'page' : undefined}>
            Job runs
          </Link>
          <Link to="/projects" aria-current={section === 'projects' ? 'page' : undefined}>
            Projects
          </Link>
          <a href="/20190101/openapi.json">API</a>
        </nav>
        <CompartmentPicker />
        {user && <UserMenu user={user} />}
      </header>
      <main id="main" tabIndex={-1} key={path}>
        {route(path, query)}
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
