import { LogView } from './log-view.js';

/**
 * A run says why it failed with a line `DSJOBS_FAILURE: <what>` (the gitPython and notebook drivers do: "branch 'x'
 * not found in ...", "cell 3 raised ValueError: ..."). The last such line among the log's final records is added to
 * the failed run's lifecycleDetails. Only the last 200 records are looked at: the note is a run's last words, and a
 * failing run's log can be long.
 */
export const FAILURE_MARKER = 'DSJOBS_FAILURE: ';
const LOOK_BACK_RECORDS = 200;
// lifecycleDetails stay a sentence, not a traceback.
const MAX_NOTE_CHARS = 400;

export function failureNote(logFile: string): string | null {
  const view = LogView.open(logFile);
  if (!view) return null;
  try {
    const { records } = view.backward(view.size, LOOK_BACK_RECORDS);
    const hit = records.find((r) => r.message.startsWith(FAILURE_MARKER));
    if (!hit) return null;
    const note = hit.message.slice(FAILURE_MARKER.length).trim();
    if (note === '') return null;
    return note.length > MAX_NOTE_CHARS ? `${note.slice(0, MAX_NOTE_CHARS - 1)}…` : note;
  } finally {
    view.close();
  }
}
