import { useState, type FormEvent } from 'react';
import { client, compartmentId, controlFor, splitError } from '../api';
import { Link, navigate } from '../router';
import { ErrorBanner, Field, fieldProps, fmtTime, Pager, StateBadge, usePaged, useTitle } from '../ui';

export function ProjectsPage() {
  useTitle('Projects');
  const list = usePaged(async (page) => client.listProjects({ compartmentId: await compartmentId(), limit: 25, page }), 'projects');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const p = await client.createProject({ compartmentId: await compartmentId(), displayName: name || undefined, description: description || undefined });
      navigate(`/projects/${encodeURIComponent(p.id)}`);
    } catch (err) {
      const fe = splitError(err);
      const control = controlFor(fe.field, { displayName: 'project-name', description: 'project-description' });
      if (control) setErrors({ [control]: fe.reason });
      else setFormError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>Projects</h1>
      <ErrorBanner error={list.error} />
      <table>
        <caption className="sr-only">Projects</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Created</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {list.items.map((p) => (
            <tr key={p.id}>
              <td>
                <Link to={`/projects/${encodeURIComponent(p.id)}`}>{p.displayName}</Link>
              </td>
              <td>
                <StateBadge state={p.lifecycleState} />
              </td>
              <td>{fmtTime(p.timeCreated)}</td>
              <td>{p.description ?? ''}</td>
            </tr>
          ))}
          {list.loaded && list.items.length === 0 && (
            <tr>
              <td colSpan={4}>No projects yet: create one below.</td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager label="Projects" pageNo={list.pageNo} hasPrev={list.hasPrev} hasNext={list.hasNext} onPrev={list.prev} onNext={list.next} />

      <h2>Create a project</h2>
      <form onSubmit={create} className="card narrow">
        <ErrorBanner error={formError} />
        <Field id="project-name" label="Name" error={errors['project-name']}>
          <input {...fieldProps('project-name', errors['project-name'])} value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="project-description" label="Description" error={errors['project-description']}>
          <input {...fieldProps('project-description', errors['project-description'])} value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <button type="submit" disabled={busy}>
          Create project
        </button>
      </form>
    </section>
  );
}
