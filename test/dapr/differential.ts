/**
 * The test sidecar held to the real runtime: for each item of the fidelity checklist that can be
 * exercised over HTTP, the same requests go to real daprd and to the test sidecar of the same
 * flavour (in-memory component, Redis component), and what a client can observe must be the same:
 * status, body, content type, whether an ETag comes back and in which format, whether
 * `metadata.ttlExpireTime` does. Etags, UUIDs and timestamps are compared by identity and format, not
 * by value (a UUID is random; "the etag changed" is what matters).
 *
 * With DIFFERENTIAL_REPORT=path set, the run also writes the table docs/testing.md carries.
 */
import type { Daprd, SidecarFlavour, TestSidecar } from '../../src/testing/index.js'
import { startDaprd, startTestSidecar } from '../../src/testing/index.js'
import type { RawAnswer } from './helpers.js'
import { raw, sleep } from './helpers.js'

/** The components both daprd and the test sidecar have, each held to its real counterpart. */
/** A component both daprd and the test sidecar have; each flavour is held to its real counterpart. */
export type Flavour = SidecarFlavour

/**
 * Components whose bulk get answers in an order of their own (PostgreSQL, MongoDB: one query, found
 * entries first in the table's order): their answers are compared with the entries sorted by key.
 */
const UNORDERED_BULK: ReadonlySet<Flavour> = new Set(['postgres', 'mongodb'])

/** The top-level entries of a JSON array, each as the exact text the answer has. */
const entryTexts = (array: string): ReadonlyArray<string> => {
  const entries: Array<string> = []
  let depth = 0
  let start = -1
  let inString = false
  for (let at = 0; at < array.length; at++) {
    const c = array[at]
    if (inString) {
      if (c === '\\') at++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') {
      if (depth === 1 && c === '{') start = at
      depth++
    } else if (c === '}' || c === ']') {
      depth--
      if (depth === 1 && c === '}') entries.push(array.slice(start, at + 1))
    }
  }
  return entries
}

/** A bulk get answer with its entries sorted by key, each entry's text as the answer had it. */
const sortedBulk = (answer: RawAnswer): RawAnswer => {
  const entries = entryTexts(answer.body).map((text) => ({ key: (JSON.parse(text) as { key: string }).key, text }))
  const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.text < b.text ? -1 : 1))
  return { ...answer, body: `[${sorted.map(({ text }) => text).join(',')}]\n` }
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'

interface Observation {
  readonly status: number
  readonly contentType: string | undefined
  readonly etag: string | undefined
  readonly ttlExpireTime: string | undefined
  readonly body: string
}

/** Sends a request and records what a client observes of the answer. */
type Call = (method: Method, path: string, body?: string, headers?: Readonly<Record<string, string>>) => Promise<RawAnswer>

interface Case {
  /** The checklist item(s) of dapr-state-http.md this case covers. */
  readonly item: string
  readonly title: string
  /** Which targets: the default ones, or ones started with an API token or no state store. */
  readonly target?: 'default' | 'token' | 'no-stores'
  readonly run: (call: Call, key: (name: string) => string) => Promise<void>
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

/** Etags become `uuid#n` or `int#n`, n counting distinct etags in the order they appeared. */
const observer = () => {
  const seen = new Map<string, number>()
  const name = (etag: string): string => {
    if (!seen.has(etag)) seen.set(etag, seen.size + 1)
    const kind = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(etag) ? 'uuid' : /^\d+$/.test(etag) ? 'int' : 'other'
    return `${kind}#${seen.get(etag) ?? 0}`
  }
  const anonymous = (text: string): string => text.replace(UUID, (uuid) => name(uuid)).replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/g, '<time>')
  return (request: string, answer: RawAnswer): Observation & { readonly request: string } => {
    const etag = answer.headers['etag']
    const ttl = answer.headers['metadata.ttlexpiretime']
    return {
      request: anonymous(request),
      status: answer.status,
      contentType: answer.headers['content-type'],
      etag: etag === undefined ? undefined : name(etag),
      ttlExpireTime: ttl === undefined ? undefined : RFC3339.test(ttl) ? 'RFC3339' : ttl,
      body: anonymous(answer.body),
    }
  }
}

const save = (items: ReadonlyArray<Record<string, unknown>>): string => JSON.stringify(items)
const path = (key: string): string => `/v1.0/state/cache/${encodeURIComponent(key)}`
const MIB = 1024 * 1024

const cases: ReadonlyArray<Case> = [
  {
    item: '1, 20',
    title: 'routes and verbs: POST and PUT save, bulk and transaction; other methods and key-less GET fall through to 404 ERR_DIRECT_INVOKE',
    run: async (call, key) => {
      await call('PUT', '/v1.0/state/cache', save([{ key: key('a'), value: 1 }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('b'), value: 2 }]))
      await call('PUT', '/v1.0/state/cache/bulk', JSON.stringify({ keys: [key('a'), key('b')] }))
      await call('PUT', '/v1.0/state/cache/transaction', JSON.stringify({ operations: [{ operation: 'delete', request: { key: key('a') } }] }))
      await call('PATCH', path(key('b')))
      await call('GET', '/v1.0/state/cache')
      await call('GET', '/v1.0/state/cache/')
      await call('DELETE', '/v1.0/state/cache')
      await call('GET', '/v1.0/nothing-here')
    },
  },
  {
    item: '2, 20',
    title: 'keys in the path: routed on the escaped path, then query-unescaped (%2F stays in the key, + is a space, bad escapes 400)',
    run: async (call, key) => {
      await call('POST', '/v1.0/state/cache', save([{ key: key('a/b'), value: 'slash' }, { key: key('a b'), value: 'space' }, { key: key('é😀'), value: 'unicode' }, { key: key('100%'), value: 'percent' }]))
      await call('GET', path(key('a/b')))
      await call('GET', `/v1.0/state/cache/${key('a')}/b`)
      await call('GET', `/v1.0/state/cache/${key('a')}+b`)
      await call('GET', `/v1.0/state/cache/${key('a')}%20b`)
      await call('GET', path(key('é😀')))
      await call('GET', path(key('100%')))
      await call('GET', `/v1.0/state/cache/${key('100')}%`)
      await call('GET', `/v1.0/state/cache/${key('x')}%zz`)
      await call('GET', `/v1.0/state/cache/nothing/../${encodeURIComponent(key('a b'))}`)
      await call('GET', `/v1.0//state//cache/${encodeURIComponent(key('a b'))}/`)
      await call('DELETE', path(key('a/b')))
      await call('GET', path(key('a/b')))
    },
  },
  {
    item: '3, 24',
    title: 'no state store configured: 500 ERR_STATE_STORE_NOT_CONFIGURED with details, on every state route',
    target: 'no-stores',
    run: async (call, key) => {
      await call('GET', path(key('a')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('a'), value: 1 }]))
      await call('DELETE', path(key('a')))
      await call('POST', '/v1.0/state/cache/bulk', JSON.stringify({ keys: [key('a')] }))
    },
  },
  {
    item: '4, 24',
    title: 'unknown store: 400 ERR_STATE_STORE_NOT_FOUND with details, checked before the body',
    run: async (call, key) => {
      await call('GET', `/v1.0/state/nostore/${key('a')}`)
      await call('POST', '/v1.0/state/nostore', 'not json at all')
      await call('DELETE', `/v1.0/state/nostore/${key('a')}`)
      await call('POST', '/v1.0/state/nostore/bulk', '{')
      await call('POST', '/v1.0/state/nostore/transaction', '{}')
    },
  },
  {
    item: '5, 24',
    title: "a key containing '||': 400 ERR_MALFORMED_REQUEST on every route",
    run: async (call, key) => {
      await call('GET', path(key('a||b')))
      await call('DELETE', path(key('a||b')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('a||b'), value: 1 }]))
      await call('POST', '/v1.0/state/cache/bulk', JSON.stringify({ keys: [key('a||b')] }))
      await call('POST', '/v1.0/state/cache/transaction', JSON.stringify({ operations: [{ operation: 'upsert', request: { key: key('a||b'), value: 1 } }] }))
    },
  },
  {
    item: '6, 7',
    title: 'GET: 204 with nothing for a missing key; 200 with the stored bytes, JSON content type, ETag, and ttlExpireTime where the component reports it',
    run: async (call, key) => {
      await call('GET', path(key('missing')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('plain'), value: 'v' }, { key: key('ttl'), value: 'v', metadata: { ttlInSeconds: '100' } }]))
      await call('GET', path(key('plain')))
      await call('GET', path(key('ttl')))
      await call('GET', `${path(key('ttl'))}?consistency=strong&metadata.partitionKey=p`)
    },
  },
  {
    item: '8',
    title: 'values are stored re-encoded as the component encodes them: strings keep quotes, null stays null, numbers, HTML characters, escapes',
    run: async (call, key) => {
      const values: ReadonlyArray<unknown> = [
        'abc',
        'QUJD+/==',
        null,
        true,
        [],
        {},
        { only: 'one' },
        123,
        1.0,
        -2.5,
        0.1,
        0.1234567,
        1e-7,
        1e21,
        123456789.123,
        '<a href="x">&amp;</a>',
        'tab\tnew\nline\u0008\u000c\u0001\u007f',
        'line\u2028separator\u2029',
        'é日本😀',
        [1, 'two', [3], { four: 4 }],
        { outer: { inner: [null, false] } },
      ]
      await call('POST', '/v1.0/state/cache', save(values.map((value, index) => ({ key: key(`v${index}`), value }))))
      for (const index of values.keys()) await call('GET', path(key(`v${index}`)))
      await call('POST', '/v1.0/state/cache', `[{"key":${JSON.stringify(key('omitted'))}}]`)
      await call('GET', path(key('omitted')))
      await call('POST', '/v1.0/state/cache', `[{"key":${JSON.stringify(key('spaced'))},"value": [ 1 , "a" ,\n {"k" : true}, 9007199254740993, 1.0, 1E3 ] }]`)
      await call('GET', path(key('spaced')))
      await call('POST', '/v1.0/state/cache', `[{"key":${JSON.stringify(key('negzero'))},"value":-0}]`)
      await call('GET', path(key('negzero')))
    },
  },
  {
    item: '9, 10',
    title: 'save body: not an array, invalid JSON, empty, wrong types: 400 ERR_MALFORMED_REQUEST with Go’s message; [] is 204',
    run: async (call, key) => {
      await call('POST', '/v1.0/state/cache', '')
      await call('POST', '/v1.0/state/cache', '{"key":"a"}')
      await call('POST', '/v1.0/state/cache', '"text"')
      await call('POST', '/v1.0/state/cache', '[1]')
      await call('POST', '/v1.0/state/cache', '[]')
      await call('POST', '/v1.0/state/cache', save([{ key: '', value: 1 }]))
      await call('POST', '/v1.0/state/cache', save([{ value: 1 }]))
      await call('POST', '/v1.0/state/cache', save([{ key: 5, value: 1 }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('m'), value: 1, metadata: { ttlInSeconds: 60 } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('m'), value: 1, metadata: [] }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('m'), value: 1, etag: 5 }]))
      await call('GET', path(key('m')))
    },
  },
  {
    item: '11',
    title: 'save: 204 with no body and no ETag; metadata.* query parameters apply to every item',
    run: async (call, key) => {
      await call('POST', `/v1.0/state/cache?metadata.ttlInSeconds=100`, save([{ key: key('q1'), value: 1 }, { key: key('q2'), value: 2, metadata: { ttlInSeconds: '0' } }]))
      await call('GET', path(key('q1')))
      await call('GET', path(key('q2')))
    },
  },
  {
    item: '12',
    title: 'ttlInSeconds: 0 and negative mean no expiry, garbage is 500 ERR_STATE_SAVE, and an item is gone once its TTL ran out',
    run: async (call, key) => {
      await call('POST', '/v1.0/state/cache', save([{ key: key('zero'), value: 1, metadata: { ttlInSeconds: '0' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('negative'), value: 1, metadata: { ttlInSeconds: '-1' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('bad'), value: 1, metadata: { ttlInSeconds: 'abc' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('bad'), value: 1, metadata: { ttlInSeconds: '1.5' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('bad'), value: 1, metadata: { ttlInSeconds: '99999999999999999999' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('empty'), value: 1, metadata: { ttlInSeconds: '' } }]))
      await call('GET', path(key('zero')))
      await call('GET', path(key('negative')))
      await call('GET', path(key('bad')))
      await call('GET', path(key('empty')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('short'), value: 1, metadata: { ttlInSeconds: '1' } }]))
      await call('GET', path(key('short')))
      await sleep(2_100)
      await call('GET', path(key('short')))
      await call('POST', '/v1.0/state/cache/bulk', JSON.stringify({ keys: [key('short')] }))
    },
  },
  {
    item: '12, 26',
    title: 'a write without ttlInSeconds after one with a TTL: the expiry is dropped (in-memory) or kept (Redis)',
    run: async (call, key) => {
      await call('POST', '/v1.0/state/cache', save([{ key: key('k'), value: 1, metadata: { ttlInSeconds: '1' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('k'), value: 2 }]))
      await sleep(1_600)
      await call('GET', path(key('k')))
    },
  },
  {
    item: '13, 14, 26',
    title: 'etags: a new one on every write; a stale, unknown or malformed etag on save',
    run: async (call, key) => {
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 1 }]))
      const first = (await call('GET', path(key('e')))).headers['etag'] ?? ''
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 2, etag: first }]))
      const second = (await call('GET', path(key('e')))).headers['etag'] ?? ''
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 3, etag: first }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 3, etag: '99' }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 3, etag: 'not-a-number' }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 3, etag: '' }]))
      await call('GET', path(key('e')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 4, etag: '77', options: { concurrency: 'last-write' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('absent'), value: 1, etag: '5' }]))
      await call('GET', path(key('absent')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('e'), value: 5, etag: second }, { key: key('other'), value: 1 }]))
      await call('GET', path(key('other')))
    },
  },
  {
    item: '15, 26',
    title: 'first-write: creates an absent key; on an existing one, 409 (in-memory) or, only against a first-write record, a sticky 500 (Redis)',
    run: async (call, key) => {
      const firstWrite = { concurrency: 'first-write' }
      await call('POST', '/v1.0/state/cache', save([{ key: key('fw'), value: 1, options: firstWrite }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('fw'), value: 2, options: firstWrite }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('fw'), value: 3 }]))
      await call('GET', path(key('fw')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('lw'), value: 1 }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('lw'), value: 2, options: firstWrite }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('lw'), value: 3, options: firstWrite }]))
      await call('GET', path(key('lw')))
      const etag = (await call('GET', path(key('fw')))).headers['etag'] ?? ''
      await call('POST', '/v1.0/state/cache', save([{ key: key('fw'), value: 4, etag, options: firstWrite }]))
      await call('GET', path(key('fw')))
      await call('DELETE', path(key('fw')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('fw'), value: 5 }]))
      await call('GET', path(key('fw')))
    },
  },
  {
    item: '15',
    title: 'first-write on a key whose TTL ran out: free again',
    run: async (call, key) => {
      const firstWrite = { concurrency: 'first-write' }
      await call('POST', '/v1.0/state/cache', save([{ key: key('lease'), value: 1, options: firstWrite, metadata: { ttlInSeconds: '1' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('lease'), value: 2, options: firstWrite, metadata: { ttlInSeconds: '1' } }]))
      await sleep(3_100) // past the TTL and the in-memory component's one-second sweep
      await call('POST', '/v1.0/state/cache', save([{ key: key('lease'), value: 3, options: firstWrite, metadata: { ttlInSeconds: '1' } }]))
      await call('GET', path(key('lease')))
    },
  },
  {
    item: '16',
    title: 'unknown concurrency or consistency: 500 ERR_STATE_SAVE; option names match case-insensitively',
    run: async (call, key) => {
      await call('POST', '/v1.0/state/cache', save([{ key: key('o'), value: 1, options: { concurrency: 'bogus' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('o'), value: 1, options: { consistency: 'bogus' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('o'), value: 1, options: { Concurrency: 'first-write', CONSISTENCY: 'strong' } }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('o'), value: 2, options: { concurrency: 'first-write' } }]))
      await call('GET', path(key('o')))
    },
  },
  {
    item: '17, 26',
    title: 'DELETE: 204 present or not; If-Match stale, unknown or on an absent key; an empty If-Match is no etag',
    run: async (call, key) => {
      await call('DELETE', path(key('never')))
      await call('DELETE', path(key('never')), undefined, { 'if-match': '3' })
      await call('POST', '/v1.0/state/cache', save([{ key: key('d'), value: 1 }]))
      const etag = (await call('GET', path(key('d')))).headers['etag'] ?? ''
      await call('DELETE', path(key('d')), undefined, { 'if-match': 'x' })
      await call('DELETE', path(key('d')), undefined, { 'if-match': '12345' })
      await call('DELETE', path(key('d')), undefined, { 'if-match': '' })
      await call('GET', path(key('d')))
      await call('POST', '/v1.0/state/cache', save([{ key: key('d'), value: 2 }]))
      const fresh = (await call('GET', path(key('d')))).headers['etag'] ?? ''
      await call('DELETE', path(key('d')), undefined, { 'if-match': etag === fresh ? 'stale' : etag })
      await call('DELETE', path(key('d')), undefined, { 'if-match': fresh })
      await call('GET', path(key('d')))
      await call('DELETE', `${path(key('d'))}?concurrency=bogus`)
    },
  },
  {
    item: '18',
    title: 'bulk get: request order, a missing key as {key}, data as raw JSON, etags, metadata; bad bodies',
    run: async (call, key) => {
      await call('POST', '/v1.0/state/cache', save([{ key: key('s'), value: 'text<&>' }, { key: key('o'), value: { k: [1, null] } }, { key: key('t'), value: 3, metadata: { ttlInSeconds: '100' } }]))
      await call('POST', '/v1.0/state/cache/bulk', JSON.stringify({ keys: [key('t'), key('missing'), key('s'), key('o')], parallelism: 2 }))
      await call('POST', '/v1.0/state/cache/bulk', JSON.stringify({ keys: [] }))
      await call('POST', '/v1.0/state/cache/bulk', '{}')
      await call('POST', '/v1.0/state/cache/bulk', '')
      await call('POST', '/v1.0/state/cache/bulk', '[]')
      await call('POST', '/v1.0/state/cache/bulk', '{"keys":"a"}')
    },
  },
  {
    item: '18',
    title: 'bulk get as batched reads send it: a key asked twice, 300 keys, parallelism 1, 16 and 1000, metadata in the query',
    run: async (call, key) => {
      const many = Array.from({ length: 300 }, (_, i) => key(`many${i}`))
      await call('POST', '/v1.0/state/cache', save(many.filter((_, i) => i % 3 === 0).map((k, i) => ({ key: k, value: i }))))
      await call('POST', '/v1.0/state/cache/bulk', JSON.stringify({ keys: [key('many0'), key('many0'), key('many1')], parallelism: 2 }))
      for (const parallelism of [1, 16, 1000]) await call('POST', '/v1.0/state/cache/bulk', JSON.stringify({ keys: many, parallelism }))
      await call('POST', '/v1.0/state/cache/bulk?metadata.partitionKey=p1', JSON.stringify({ keys: [key('many0')] }))
    },
  },
  {
    item: '19',
    title: 'transactions: upsert and delete with TTLs; an etag failure is 500 ERR_STATE_TRANSACTION; an unknown operation is 400',
    run: async (call, key) => {
      const transaction = (operations: ReadonlyArray<unknown>) => call('POST', '/v1.0/state/cache/transaction', JSON.stringify({ operations }))
      await call('POST', '/v1.0/state/cache', save([{ key: key('gone'), value: 0 }]))
      await transaction([
        { operation: 'upsert', request: { key: key('a'), value: 'A', metadata: { ttlInSeconds: '100' } } },
        { operation: 'delete', request: { key: key('gone') } },
      ])
      await call('GET', path(key('a')))
      await call('GET', path(key('gone')))
      await transaction([{ operation: 'upsert', request: { key: key('b'), value: 'B' } }, { operation: 'upsert', request: { key: key('a'), value: 'A2', etag: '987654' } }])
      await call('GET', path(key('b')))
      await call('GET', path(key('a')))
      await transaction([{ operation: 'delete', request: { key: key('a'), etag: '987654' } }])
      await transaction([{ operation: 'merge', request: { key: key('a') } }])
      await transaction([])
      await call('POST', '/v1.0/state/cache/transaction', '{')
    },
  },
  {
    item: '19',
    title: 'transactions run their operations in order, each as the component runs it (Redis: every command twice in a row)',
    run: async (call, key) => {
      const transaction = (operations: ReadonlyArray<unknown>) => call('POST', '/v1.0/state/cache/transaction', JSON.stringify({ operations }))
      await call('POST', '/v1.0/state/cache', save([{ key: key('k'), value: 1 }]))
      const etag = (await call('GET', path(key('k')))).headers['etag'] ?? ''
      await transaction([
        { operation: 'delete', request: { key: key('k'), etag } },
        { operation: 'upsert', request: { key: key('k'), value: 2 } },
      ])
      const after = (await call('GET', path(key('k')))).headers['etag'] ?? ''
      // The etag the transaction left, and Redis's version 2: which of them a write can match.
      await call('POST', '/v1.0/state/cache', save([{ key: key('k'), value: 3, etag: after }]))
      await call('POST', '/v1.0/state/cache', save([{ key: key('k'), value: 4, etag: '2' }]))
      await call('GET', path(key('k')))
      await transaction([
        { operation: 'upsert', request: { key: key('m'), value: 1 } },
        { operation: 'delete', request: { key: key('m') } },
        { operation: 'delete', request: { key: key('n'), etag: '5' } },
        { operation: 'upsert', request: { key: key('n'), value: 'n', metadata: { ttlInSeconds: '100' } } },
      ])
      await call('GET', path(key('m')))
      await call('GET', path(key('n')))
    },
  },
  {
    item: '21',
    title: 'the 4 MiB body limit: a body one byte over is read up to the limit and fails to decode (400 ERR_MALFORMED_REQUEST "unexpected EOF"); at the limit it is accepted',
    run: async (call, key) => {
      const wrap = (fill: number) => `[{"key":${JSON.stringify(key('big'))},"value":"${'x'.repeat(fill)}"}]`
      const overhead = wrap(0).length
      await call('POST', '/v1.0/state/cache', wrap(4 * MIB - overhead))
      await call('POST', '/v1.0/state/cache', wrap(4 * MIB - overhead + 1))
      const answer = await call('GET', path(key('big')))
      expect(answer.body.length).toBe(4 * MIB - overhead + 2)
    },
  },
  {
    item: '22',
    title: 'API token: missing or wrong is 401 text/plain "invalid api token"; only GET /healthz and /healthz/outbound are exempt',
    target: 'token',
    run: async (call, key) => {
      const token = { 'dapr-api-token': 'secret-token' }
      await call('GET', path(key('a')))
      await call('GET', path(key('a')), undefined, { 'dapr-api-token': 'wrong' })
      await call('GET', path(key('a')), undefined, token)
      await call('POST', '/v1.0/state/cache', save([{ key: key('a'), value: 1 }]))
      await call('GET', '/v1.0/metadata')
      await call('GET', '/v1.0/healthz')
      await call('GET', '/v1.0/healthz/outbound')
      await call('GET', '/v1.0/no-such-route')
    },
  },
  {
    item: 'pub/sub',
    title: 'publish: 204 and no body; an unknown component 404 ERR_PUBSUB_NOT_FOUND; the topic is the rest of the path; no topic falls through to 404',
    run: async (call) => {
      await call('POST', '/v1.0/publish/pubsub/dapr-state-cache', '{"v":1}', { 'content-type': 'application/json' })
      await call('POST', '/v1.0/publish/pubsub/a/b', 'text')
      await call('POST', '/v1.0/publish/nope/t', '{}', { 'content-type': 'application/json' })
      await call('POST', '/v1.0/publish/pubsub/', '{}')
      await call('POST', '/v1.0/publish/pubsub', '{}')
    },
  },
  {
    item: '23',
    title: 'health probes: 204 when ready',
    run: async (call) => {
      await call('GET', '/v1.0/healthz')
      await call('GET', '/v1.0/healthz/outbound')
    },
  },
]

interface Target {
  readonly url: string
  readonly close: () => Promise<void>
}

const startPair = async (flavour: Flavour, kind: Case['target']): Promise<{ daprd: Target; sidecar: Target }> => {
  const options = kind === 'token' ? { apiToken: 'secret-token' } : kind === 'no-stores' ? { stores: [] } : {}
  const daprd: Daprd = await startDaprd({ flavour, ...options })
  const sidecar: TestSidecar = await startTestSidecar({ flavour, ...options })
  return { daprd, sidecar }
}

/** One case's outcome on one component, for the table docs/testing.md carries. */
export interface Outcome {
  readonly flavour: Flavour
  readonly item: string
  readonly title: string
  readonly steps: number
  readonly same: boolean
}

/** Every case on each of `flavours`: the same requests to real daprd and to the test sidecar. */
export const describeDifferential = (flavours: ReadonlyArray<Flavour>, report: Array<Outcome> = []): void => {
  describe.each(flavours)('the test sidecar against real daprd (%s)', (flavour) => {
    const pairs = new Map<string, { daprd: Target; sidecar: Target }>()
    afterAll(async () => {
      for (const pair of pairs.values()) await Promise.all([pair.daprd.close(), pair.sidecar.close()])
    })

    const pairFor = async (kind: Case['target'] = 'default') => {
      let pair = pairs.get(kind)
      if (pair === undefined) {
        pair = await startPair(flavour, kind)
        pairs.set(kind, pair)
      }
      return pair
    }

    it('reports the same components and capabilities in /v1.0/metadata', async () => {
      const { daprd, sidecar } = await pairFor()
      const components = async (url: string) => (JSON.parse((await raw(url, 'GET', '/v1.0/metadata')).body) as { components: unknown }).components
      expect(await components(sidecar.url)).toEqual(await components(daprd.url))
    })

    it.each(cases.map((testCase, index) => [`${testCase.item}: ${testCase.title}`, testCase, index] as const))('%s', async (_title, testCase, index) => {
      const { daprd, sidecar } = await pairFor(testCase.target)
      const observe = async (target: Target): Promise<ReadonlyArray<Observation & { request: string }>> => {
        const observations: Array<Observation & { request: string }> = []
        const record = observer()
        const call: Call = async (method, requestPath, body, headers) => {
          const answered = await raw(target.url, method, requestPath, body, headers)
          const answer = UNORDERED_BULK.has(flavour) && requestPath.endsWith('/bulk') && answered.status === 200 ? sortedBulk(answered) : answered
          observations.push(record(`${method} ${requestPath}${body === undefined ? '' : ` ${body.slice(0, 160)}`}${headers?.['if-match'] === undefined ? '' : ` If-Match: ${headers['if-match']}`}`, answer))
          return answer
        }
        await testCase.run(call, (name) => `diff${index}-${name}`)
        return observations
      }
      const [real, ours] = await Promise.all([observe(daprd), observe(sidecar)])
      report.push({ flavour, item: testCase.item, title: testCase.title, steps: real.length, same: JSON.stringify(real) === JSON.stringify(ours) })
      expect(ours).toEqual(real)
    })
  })
}

