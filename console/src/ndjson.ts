// NDJSON response bodies read as they arrive: each network chunk yields the complete lines it finished, parsed,
// as one batch (a burst of lines becomes one update of the view, not one per line). Empty lines are skipped.
export async function* ndjsonBatches<T>(body: ReadableStream<Uint8Array>): AsyncGenerator<T[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    const batch: T[] = [];
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (text) batch.push(JSON.parse(text) as T);
    }
    yield batch;
  }
}
