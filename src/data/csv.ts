/**
 * RFC 4180 CSV: fields separated by `sep`, quoted with "…" (a doubled "" is one quote; quoted fields may hold the
 * separator and line breaks), records ended by CRLF or LF. A stray quote inside an unquoted field, or a quote left
 * open at the end, is an error naming the line.
 */
import { WeightscopeError } from '../errors.js';

export function parseCsv(text: string, sep: string, what = 'CSV'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let i = 0;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const endField = (): void => {
    row.push(field);
    field = '';
  };
  const endRow = (): void => {
    endField();
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  while (i < body.length) {
    const c = body[i];
    if (quoted) {
      if (c === '"') {
        if (body[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (field !== '') throw new WeightscopeError('invalid-input', `${what}: line ${line}: a quote inside an unquoted field`);
      quoted = true;
      i++;
    } else if (c === sep) {
      endField();
      i++;
    } else if (c === '\r' && body[i + 1] === '\n') {
      endRow();
      line++;
      i += 2;
    } else if (c === '\n') {
      endRow();
      line++;
      i++;
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) throw new WeightscopeError('invalid-input', `${what}: a quoted field opened before line ${line} is never closed`);
  if (field !== '' || row.length > 0) endRow();
  return rows;
}
