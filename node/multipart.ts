/**
 * multipart/form-data (RFC 7578) over a body already read and size-limited
 * by the ingress: parts are views into that Buffer, nothing is copied or
 * spilled to disk.
 */
import { invalidField } from './http/context.ts';

export interface FormPart {
  name: string;
  /** Set for file parts (`filename=` in Content-Disposition). */
  filename?: string;
  contentType?: string;
  data: Buffer;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

function malformed(message: string) {
  return invalidField('body', `malformed multipart body: ${message}`, message);
}

/** The boundary of a `multipart/form-data` Content-Type, or undefined for any other type. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^;\s"]{1,70}))/i.exec(contentType);
  if (!m) throw malformed('the Content-Type has no boundary');
  return m[1] ?? m[2];
}

/** Every part of the body; VALIDATION when it does not follow the format. */
export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const open = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first boundary may open the body or follow a preamble, which is ignored.
  let pos = body.subarray(0, open.length).equals(open) ? open.length : body.indexOf(delimiter);
  if (pos < 0) throw malformed('no boundary found');
  if (pos !== open.length) pos += delimiter.length;
  const parts: FormPart[] = [];
  for (;;) {
    if (body.toString('latin1', pos, pos + 2) === '--') return parts;
    // RFC 2046 lets transport padding (spaces, tabs) sit between a boundary and its CRLF.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw malformed('a boundary is not followed by CRLF');
    // Searching from the CRLF just consumed also finds an empty header block.
    const headerEnd = body.indexOf(HEADER_END, pos);
    if (headerEnd < 0) throw malformed('a part has no end of headers');
    const next = body.indexOf(delimiter, headerEnd + HEADER_END.length);
    if (next < 0) throw malformed('the body ends without a closing boundary');
    parts.push(partOf(body.toString('utf8', pos + 2, headerEnd), body.subarray(headerEnd + HEADER_END.length, next)));
    pos = next + delimiter.length;
  }
}

function partOf(headerText: string, data: Buffer): FormPart {
  const headers = new Map<string, string>();
  for (const line of headerText.split('\r\n').filter(Boolean)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`bad part header line: ${line.slice(0, 80)}`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const disposition = headers.get('content-disposition');
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) throw malformed('a part has no Content-Disposition: form-data');
  const params = new Map<string, string>();
  for (const m of disposition.matchAll(/;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g)) {
    params.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]);
  }
  const name = params.get('name');
  if (name === undefined) throw malformed('a part has no name');
  return { name, filename: params.get('filename'), contentType: headers.get('content-type'), data };
}
