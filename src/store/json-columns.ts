/**
 * Structured fields (configuration details, tags, a run's launch spec and handle) are kept as JSON text in TEXT
 * columns, the same for SQLite and PostgreSQL (one set of migrations); undefined is stored as JSON null.
 */
export const toJson = (v: unknown): string => JSON.stringify(v ?? null);

/** A JSON column read back; SQL NULL gives null. */
export const fromJson = <T>(v: string | null): T => (v == null ? (null as T) : (JSON.parse(v) as T));
