// The compartment picker in the header. Compartments are opaque scopes until identities exist: any OCID-shaped
// compartment or tenancy id is one, and the server is the judge of that (its 400 names the field and the reason).
import { useEffect, useState, type FormEvent } from 'react';
import { client, pickCompartmentId, pickedCompartmentId, serverInfo, splitError } from './api';
import { Field, fieldProps } from './ui';

/** An OCID's last 8 characters after an ellipsis (`…kc0h945e`): enough to tell two apart at a glance. */
const short = (id: string) => `…${id.slice(-8)}`;

export function CompartmentPicker() {
  const [defaultId, setDefaultId] = useState<string | null>(null);
  const picked = pickedCompartmentId();
  const current = picked ?? defaultId;
  const [value, setValue] = useState(picked ?? '');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void serverInfo()
      .then((i) => {
        setDefaultId(i.defaultCompartmentId);
        setValue((v) => v || i.defaultCompartmentId);
      })
      .catch(() => {});
  }, []);

  const use = async (e: FormEvent) => {
    e.preventDefault();
    const id = value.trim();
    setBusy(true);
    setError(null);
    try {
      await client.listProjects({ compartmentId: id, limit: 1 });
      pickCompartmentId(id === defaultId ? null : id);
      // Every page loads its data for the compartment it starts with: start this one again.
      window.location.reload();
    } catch (err) {
      setError(splitError(err).reason);
      setBusy(false);
    }
  };
  const useDefault = () => {
    pickCompartmentId(null);
    window.location.reload();
  };

  return (
    <details className="compartment">
      <summary>
        Compartment <code title={current ?? undefined}>{current ? short(current) : "…"}</code>
        {picked === null ? ' (default)' : ''}
      </summary>
      <form onSubmit={use} noValidate>
        <Field id="compartment-id" label="Compartment OCID" error={error} hint="What the console lists and where it creates; kept in this browser.">
          <input {...fieldProps('compartment-id', error)} value={value} spellCheck={false} autoComplete="off" onChange={(e) => setValue(e.target.value)} />
        </Field>
        <div className="actions">
          <button type="submit" disabled={busy}>
            Use this compartment
          </button>
          {picked !== null && (
            <button type="button" className="secondary" onClick={useDefault}>
              Back to the server&apos;s default
            </button>
          )}
        </div>
      </form>
    </details>
  );
}
