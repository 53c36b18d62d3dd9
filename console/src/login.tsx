// The login page and the header's user menu: shown when the server's authentication is on (serverInfo says so).
import { useState, type FormEvent } from 'react';
import { login, logout, splitError, type ConsoleUser } from './api';
import { Field, fieldProps, useTitle } from './ui';

export function LoginPage({ onLogin }: { onLogin: (u: ConsoleUser) => void }) {
  useTitle('Log in');
  const [userName, setUserName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await login(userName.trim(), password));
    } catch (err) {
      setError(splitError(err).message);
      setBusy(false);
    }
  };
  return (
    <main id="main" className="login">
      <h1>Log in to dsjobs</h1>
      <form onSubmit={submit} noValidate aria-label="Log in">
        <Field id="login-user" label="User name" hint="The administrator is admin; its first password was printed when the server first started.">
          <input {...fieldProps('login-user')} value={userName} autoComplete="username" onChange={(e) => setUserName(e.target.value)} />
        </Field>
        <Field id="login-password" label="Password" error={error}>
          <input {...fieldProps('login-password', error)} type="password" value={password} autoComplete="current-password" onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <div className="actions">
          <button type="submit" disabled={busy || !userName || !password}>
            Log in
          </button>
        </div>
      </form>
    </main>
  );
}

export function UserMenu({ user }: { user: ConsoleUser }) {
  const out = async () => {
    await logout();
    window.location.assign('/');
  };
  return (
    <span className="user">
      <span data-testid="user-name">{user.userName}</span>
      <button type="button" className="secondary" onClick={() => void out()}>
        Log out
      </button>
    </span>
  );
}
