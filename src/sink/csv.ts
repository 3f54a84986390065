// CSV as the project writes it (_rejects.csv, reduced-csv/): RFC 4180 quoting, so paths holding
// commas, quotes or line breaks survive, and a reader that undoes exactly that quoting.

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(header: string[], rows: (string | number)[][]): string {
  const lines = [header.join(',')];
  for (const r of rows) lines.push(r.map((v) => csvField(String(v))).join(','));
  return `${lines.join('\n')}\n`;
}

/** The records of a CSV text, header included; blank lines are skipped. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  const endRecord = (): void => {
    record.push(field);
    if (record.length > 1 || record[0] !== '') records.push(record);
    record = [];
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n') endRecord();
    else if (c !== '\r') field += c;
  }
  if (field !== '' || record.length > 0) endRecord();
  return records;
}
