/**
 * How the test sidecar routes a request as `daprd` does: on the cleaned, still escaped path, with
 * the path parameters query-unescaped after routing, and `metadata.*` query parameters read out.
 */
import type { Route } from '../faults.js'

// -------------------------------------------------------------------------------------
// routing
// -------------------------------------------------------------------------------------

/** Go's `path.Clean` on the escaped path: `//` collapses, `.` and `..` resolve, no trailing slash. */
export const cleanPath = (escaped: string): string => {
  const out: Array<string> = []
  for (const segment of escaped.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  return `/${out.join('/')}`
}

export class BadEscape extends Error {}

/** Go's `url.QueryUnescape`: `%XX` decoded as UTF-8 bytes, `+` as a space. */
export const queryUnescape = (segment: string): string => {
  const bytes: Array<number> = []
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string
    if (c === '%') {
      const hex = segment.slice(i + 1, i + 3)
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new BadEscape(segment)
      bytes.push(parseInt(hex, 16))
      i += 2
    } else if (c === '+') {
      bytes.push(0x20)
    } else {
      for (const byte of Buffer.from(c, 'utf8')) bytes.push(byte)
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

export interface Matched {
  readonly route: Route
  readonly store?: string | undefined
  readonly key?: string | undefined
}

export const match = (method: string, segments: ReadonlyArray<string>): Matched => {
  const [version, area, store, key, ...rest] = segments
  const isSave = method === 'POST' || method === 'PUT'
  if (version === 'v1.0' && area === 'healthz' && method === 'GET' && rest.length === 0) {
    if (store === undefined) return { route: 'healthz' }
    if (store === 'outbound' && key === undefined) return { route: 'outbound' }
  }
  if (version === 'v1.0' && area === 'metadata' && store === undefined && method === 'GET') return { route: 'metadata' }
  // The topic is the rest of the path, slashes included (`/v1.0/publish/{pubsub}/{topic...}`).
  if (version === 'v1.0' && area === 'publish' && method === 'POST' && store !== undefined && key !== undefined) return { route: 'publish', store, key: [key, ...rest].join('/') }
  if (version === 'v1.0' && area === 'state' && store !== undefined && rest.length === 0) {
    if (key === undefined) return isSave ? { route: 'save', store } : { route: 'fallback' }
    if (isSave && key === 'bulk') return { route: 'bulk', store }
    if (isSave && key === 'transaction') return { route: 'transaction', store }
    if (method === 'GET') return { route: 'get', store, key }
    if (method === 'DELETE') return { route: 'delete', store, key }
  }
  return { route: 'fallback' }
}

export const queryMetadata = (query: URLSearchParams): Record<string, string> => {
  const metadata: Record<string, string> = {}
  for (const [name, value] of query) {
    if (name.startsWith('metadata.') && !(name.slice(9) in metadata)) metadata[name.slice(9)] = value
  }
  return metadata
}
