// Server-sent events from a fetch body: the `data:` payloads as they arrive (comments such as
// ": keep-alive" and other fields skipped), ending at "data: [DONE]" or the end of the body.
//   data: {"tokens":[42],"text":"x"}\n\n  ->  '{"tokens":[42],"text":"x"}'

export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          // A blank line ends an event (its data lines joined by "\n", as the SSE spec says).
          if (data.length > 0) {
            const payload = data.join('\n');
            data = [];
            if (payload === '[DONE]') return;
            yield payload;
          }
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        }
      }
      // An event cut off by the end of the body is dropped, as the SSE spec says: the caller sees
      // the stream end without its finish event.
      if (done) return;
    }
  } finally {
    // Leaving early (break, an error) closes the connection: the server then cancels the request.
    await reader.cancel().catch(() => {});
  }
}
