// Replays what a program wrote to a terminal and returns the screen it leaves: the
// few control sequences progress bars use (carriage return, line feed, ESC[nG,
// ESC[nK, ESC 7 / ESC 8 save and restore, mode switches ignored). Enough to see
// whether a bar and text share a line or a summary overwrites earlier rows.
export function screenOf(transcript: string): string[] {
  const rows: string[][] = [[]];
  let r = 0;
  let c = 0;
  let saved: [number, number] = [0, 0];
  const row = () => (rows[r] ??= []);
  for (let i = 0; i < transcript.length; i++) {
    const ch = transcript[i]!;
    if (ch === '\r') c = 0;
    else if (ch === '\n') {
      r += 1;
      c = 0; // a pty turns \n into \r\n
      row();
    } else if (ch === '\x1b') {
      const next = transcript[i + 1];
      if (next === '7') {
        saved = [r, c];
        i += 1;
      } else if (next === '8') {
        [r, c] = saved;
        i += 1;
      } else if (next === '[') {
        const m = /^\[([?0-9;]*)([A-Za-z])/.exec(transcript.slice(i + 1, i + 20));
        if (!m) continue;
        i += m[0].length;
        const n = Number(m[1] || '0');
        if (m[2] === 'G') c = Math.max(0, (n || 1) - 1);
        else if (m[2] === 'K') {
          if (n === 0) row().length = Math.min(row().length, c);
          else if (n === 2) rows[r] = [];
          else for (let k = 0; k <= c; k++) row()[k] = ' ';
        }
      }
    } else {
      const line = row();
      while (line.length < c) line.push(' ');
      line[c] = ch;
      c += 1;
    }
  }
  return rows.map((l) => Array.from(l, (x) => x ?? ' ').join('').trimEnd());
}
