/**
 * The test sidecar against the fidelity checklist of the shared Dapr facts (dapr-state-http.md),
 * item by item, over real HTTP. Test names carry the item number.
 */
import { randomUUID } from 'node:crypto'
import { Agent, request } from 'undici'
import { manualClock } from '../../src/Clock.js'
import { startTestSidecar } from '../../src/testing/index.js'
import type { TestSidecar } from '../../src/testing/index.js'
import { goDecode } from '../../src/testing/goJson.js'
import { goQuote } from '../../src/testing/mongoState.js'
import { hashSlot } from '../../src/testing/redisState.js'

const agent = new Agent({ keepAliveTimeout: 1_000 })
afterAll(async () => {
  await agent.close()
})

interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
  readonly json: () => unknown
}

const call = async (
  sidecar: TestSidecar,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
  path: string,
  options: { body?: string | object; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply> => {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
  const response = await request(`${sidecar.url}${path}`, {
    method,
    dispatcher: agent,
    ...(body === undefined ? {} : { body }),
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(options.headers ?? {}) },
    ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
  })
  const text = await response.body.text()
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as unknown }
}

const save = (sidecar: TestSidecar, items: ReadonlyArray<object>, store = 'cache') => call(sidecar, 'POST', `/v1.0/state/${store}`, { body: items })

describe('test sidecar: the Dapr fidelity checklist', () => {
  let sidecar: TestSidecar
  const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 0))
  beforeAll(async () => {
    sidecar = await startTestSidecar({ stores: ['cache', 'other'], clock, appId: 'checklist' })
  })
  afterAll(async () => {
    await sidecar.close()
  })
  beforeEach(() => {
    sidecar.state('cache').clear()
    sidecar.clearFaults()
    sidecar.clearRequests()
  })

  it('1: save accepts POST and PUT; other methods fall through like Dapr', async () => {
    expect((await save(sidecar, [{ key: 'a', value: 1 }])).status).toBe(204)
    expect((await call(sidecar, 'PUT', '/v1.0/state/cache', { body: [{ key: 'b', value: 2 }] })).status).toBe(204)
    expect((await call(sidecar, 'PUT', '/v1.0/state/cache/bulk', { body: { keys: ['a'] } })).status).toBe(200)
    expect((await call(sidecar, 'PUT', '/v1.0/state/cache/transaction', { body: { operations: [] } })).status).toBe(204)
    const patched = await call(sidecar, 'PATCH', '/v1.0/state/cache', { body: [] })
    expect(patched.status).toBe(404)
    expect(patched.json()).toMatchObject({ errorCode: 'ERR_DIRECT_INVOKE' })
  })

  it('2: routes on the escaped path, then query-unescapes each segment (%XX decoded, + is a space)', async () => {
    await save(sidecar, [{ key: 'a/b c+d', value: 'x' }])
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/a%2Fb%20c%2Bd')).text).toBe('"x"')
    await save(sidecar, [{ key: 'plus as space', value: 'y' }])
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/plus+as+space')).text).toBe('"y"')
    const bad = await call(sidecar, 'GET', '/v1.0/state/cache/%zz')
    expect(bad.status).toBe(400)
    expect(bad.headers['content-type']).toMatch(/text\/plain/)
    expect((await call(sidecar, 'GET', '/v1.0//state/cache/./a%2Fb%20c%2Bd')).text).toBe('"x"')
  })

  it('3: no state store configured → 500 ERR_STATE_STORE_NOT_CONFIGURED with an ErrorInfo detail', async () => {
    const bare = await startTestSidecar({ stores: [], appId: 'bare' })
    try {
      const reply = await call(bare, 'GET', '/v1.0/state/cache/k')
      expect(reply.status).toBe(500)
      expect(reply.json()).toEqual({
        errorCode: 'ERR_STATE_STORE_NOT_CONFIGURED',
        message: 'state store cache is not configured',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'DAPR_STATE_NOT_CONFIGURED', domain: 'dapr.io', metadata: { appID: 'bare' } }],
      })
    } finally {
      await bare.close()
    }
  })

  it('4: unknown store → 400 ERR_STATE_STORE_NOT_FOUND, checked before the body is read', async () => {
    const reply = await call(sidecar, 'POST', '/v1.0/state/nope', { body: 'not even json' })
    expect(reply.status).toBe(400)
    expect(reply.json()).toEqual({
      errorCode: 'ERR_STATE_STORE_NOT_FOUND',
      message: 'state store nope is not found',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'DAPR_STATE_NOT_FOUND', domain: 'dapr.io', metadata: { appID: 'checklist' } }],
    })
  })

  it('5: a key containing || → 400 ERR_MALFORMED_REQUEST with three details, in the path or the body', async () => {
    for (const reply of [await call(sidecar, 'GET', '/v1.0/state/cache/a%7C%7Cb'), await save(sidecar, [{ key: 'a||b', value: 1 }])]) {
      expect(reply.status).toBe(400)
      const body = reply.json() as { errorCode: string; message: string; details: Array<{ '@type': string }> }
      expect(body.errorCode).toBe('ERR_MALFORMED_REQUEST')
      // As daprd 1.18 words it (the differential suite holds this to the real runtime).
      expect(body.message).toBe("api error: code = InvalidArgument desc = input key/keyPrefix 'a||b' can't contain '||'")
      expect(body.details.map((detail) => detail['@type'].split('.').pop())).toEqual(['BadRequest', 'ResourceInfo', 'ErrorInfo'])
    }
  })

  it('6: a missing or expired key → 204, empty body, no content type, no etag', async () => {
    const reply = await call(sidecar, 'GET', '/v1.0/state/cache/missing')
    expect(reply.status).toBe(204)
    expect(reply.text).toBe('')
    expect(reply.headers['content-type']).toBeUndefined()
    expect(reply.headers['etag']).toBeUndefined()
  })

  it('7: an existing key → 200 application/json, the stored bytes, ETag, and metadata.ttlExpireTime when a TTL is set', async () => {
    await save(sidecar, [{ key: 'k', value: { b: 1 }, metadata: { ttlInSeconds: '90' } }])
    const reply = await call(sidecar, 'GET', '/v1.0/state/cache/k')
    expect(reply.status).toBe(200)
    expect(reply.headers['content-type']).toBe('application/json')
    expect(reply.text).toBe('{"b":1}')
    expect(typeof reply.headers['etag']).toBe('string')
    expect(reply.headers['metadata.ttlexpiretime']).toBe('2026-01-01T00:01:30Z')
    await save(sidecar, [{ key: 'forever', value: 1 }])
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/forever')).headers['metadata.ttlexpiretime']).toBeUndefined()
  })

  it('8: values are stored as Go re-marshals them: strings keep quotes, keys sorted, HTML escaped, null stored', async () => {
    await save(sidecar, [
      { key: 's', value: 'abc' },
      { key: 'o', value: { b: 1, a: '<&>' } },
      { key: 'n', value: 1.0 },
      { key: 'nil', value: null },
      { key: 'omitted' },
    ])
    expect(sidecar.state('cache').get('s')).toBe('"abc"')
    expect(sidecar.state('cache').get('o')).toBe('{"a":"\\u003c\\u0026\\u003e","b":1}')
    expect(sidecar.state('cache').get('n')).toBe('1')
    // An integer beyond 2^53 goes through float64 on the way in, as in Go.
    await call(sidecar, 'POST', '/v1.0/state/cache', { body: '[{"key":"big","value":12345678901234567890}]' })
    expect(sidecar.state('cache').get('big')).toBe('12345678901234567000')
    const nil = await call(sidecar, 'GET', '/v1.0/state/cache/nil')
    expect([nil.status, nil.text]).toEqual([200, 'null'])
    expect(sidecar.state('cache').get('omitted')).toBe('null')
  })

  it('9: the save body must be a JSON array; [] → 204', async () => {
    for (const body of ['{"key":"a"}', 'not json', '']) {
      const reply = await call(sidecar, 'POST', '/v1.0/state/cache', { body })
      expect(reply.status).toBe(400)
      expect(reply.json()).toEqual({ errorCode: 'ERR_MALFORMED_REQUEST', message: expect.any(String) as unknown })
    }
    expect((await call(sidecar, 'POST', '/v1.0/state/cache', { body: '' })).json()).toMatchObject({ message: 'EOF' })
    expect((await save(sidecar, [])).status).toBe(204)
  })

  it('10: an empty key, or a metadata value that is not a string → 400 ERR_MALFORMED_REQUEST', async () => {
    const empty = await save(sidecar, [{ key: 'ok', value: 1 }, { key: '', value: 2 }])
    expect([empty.status, empty.json()]).toEqual([400, { errorCode: 'ERR_MALFORMED_REQUEST', message: '"key" is a required field' }])
    const numeric = await save(sidecar, [{ key: 'k', value: 1, metadata: { ttlInSeconds: 60 } }])
    expect(numeric.status).toBe(400)
    expect(numeric.json()).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST', message: expect.stringContaining('of type string') as unknown })
  })

  it('11: save → 204, empty body, no etag; metadata.* query parameters merge into every item and win', async () => {
    const reply = await call(sidecar, 'POST', '/v1.0/state/cache?metadata.ttlInSeconds=10', {
      body: [
        { key: 'q1', value: 1, metadata: { ttlInSeconds: '1000' } },
        { key: 'q2', value: 2 },
      ],
    })
    expect([reply.status, reply.text, reply.headers['etag']]).toEqual([204, '', undefined])
    clock.advance(10_001)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/q1')).status).toBe(204)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/q2')).status).toBe(204)
  })

  it('12: ttlInSeconds: >0 expires strictly after N s; 0 or negative never; garbage → 500 ERR_STATE_SAVE', async () => {
    await save(sidecar, [
      { key: 't', value: 1, metadata: { ttlInSeconds: '5' } },
      { key: 'zero', value: 1, metadata: { ttlInSeconds: '0' } },
      { key: 'negative', value: 1, metadata: { ttlInSeconds: '-3' } },
    ])
    clock.advance(5_000)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/t')).status).toBe(200)
    clock.advance(1)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/t')).status).toBe(204)
    clock.advance(10 ** 9)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/zero')).status).toBe(200)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/negative')).status).toBe(200)
    const bad = await save(sidecar, [{ key: 'b', value: 1, metadata: { ttlInSeconds: '1.5' } }])
    expect(bad.status).toBe(500)
    expect(bad.json()).toMatchObject({ errorCode: 'ERR_STATE_SAVE', message: expect.stringMatching(/^failed saving state in state store cache: /) as unknown })
  })

  it('13: every successful save gives the item a fresh etag', async () => {
    await save(sidecar, [{ key: 'e', value: 1 }])
    const first = (await call(sidecar, 'GET', '/v1.0/state/cache/e')).headers['etag']
    await save(sidecar, [{ key: 'e', value: 1 }])
    const second = (await call(sidecar, 'GET', '/v1.0/state/cache/e')).headers['etag']
    expect(first).toMatch(/^[0-9a-f-]{36}$/)
    expect(second).not.toBe(first)
  })

  it('14: an etag mismatch, or an etag for an absent key → 409 ERR_STATE_SAVE', async () => {
    await save(sidecar, [{ key: 'm', value: 1 }])
    const etag = (await call(sidecar, 'GET', '/v1.0/state/cache/m')).headers['etag'] as string
    expect((await save(sidecar, [{ key: 'm', value: 2, etag }])).status).toBe(204)
    const stale = await save(sidecar, [{ key: 'm', value: 3, etag }])
    expect(stale.status).toBe(409)
    expect((stale.json() as { message: string }).message).toMatch(
      /^failed saving state in state store cache: possible etag mismatch\. error from state store: /,
    )
    expect((await save(sidecar, [{ key: 'absent', value: 1, etag: 'whatever' }])).status).toBe(409)
  })

  it('15: first-write without an etag: creates an absent key, 409 on an existing one', async () => {
    const firstWrite = { options: { concurrency: 'first-write' } }
    expect((await save(sidecar, [{ key: 'fw', value: 1, ...firstWrite }])).status).toBe(204)
    expect((await save(sidecar, [{ key: 'fw', value: 2, ...firstWrite }])).status).toBe(409)
    expect((await save(sidecar, [{ key: 'fw', value: 2, etag: '', ...firstWrite }])).status).toBe(409)
  })

  it('16: an invalid concurrency or consistency → 500 ERR_STATE_SAVE naming it', async () => {
    const concurrency = await save(sidecar, [{ key: 'c', value: 1, options: { concurrency: 'x' } }])
    expect([concurrency.status, (concurrency.json() as { message: string }).message]).toEqual([
      500,
      "failed saving state in state store cache: unrecognized concurrency model 'x'",
    ])
    const consistency = await save(sidecar, [{ key: 'c', value: 1, options: { Consistency: 'sometimes' } }])
    expect(consistency.json()).toMatchObject({ errorCode: 'ERR_STATE_SAVE', message: expect.stringContaining("unrecognized consistency model 'sometimes'") as unknown })
  })

  it('17: DELETE → 204 whether or not the key exists; If-Match mismatch or on an absent key → 409; empty If-Match ignored', async () => {
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/never')).status).toBe(204)
    await save(sidecar, [{ key: 'd', value: 1 }])
    const etag = (await call(sidecar, 'GET', '/v1.0/state/cache/d')).headers['etag'] as string
    const mismatch = await call(sidecar, 'DELETE', '/v1.0/state/cache/d', { headers: { 'if-match': 'other' } })
    expect([mismatch.status, (mismatch.json() as { errorCode: string }).errorCode]).toEqual([409, 'ERR_STATE_DELETE'])
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/absent', { headers: { 'if-match': 'x' } })).status).toBe(409)
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/d', { headers: { 'if-match': '' } })).status).toBe(204)
    await save(sidecar, [{ key: 'd2', value: 1 }])
    const etag2 = (await call(sidecar, 'GET', '/v1.0/state/cache/d2')).headers['etag'] as string
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/d2', { headers: { 'if-match': etag2 } })).status).toBe(204)
    expect(etag).not.toBe(etag2)
  })

  it('18: bulk get → 200, request order, data as raw JSON, a missing key as {key}; [] for no keys', async () => {
    await save(sidecar, [
      { key: 'b1', value: 'abc' },
      { key: 'b2', value: { x: 1 }, metadata: { ttlInSeconds: '60' } },
    ])
    const reply = await call(sidecar, 'POST', '/v1.0/state/cache/bulk', { body: { keys: ['b2', 'missing', 'b1'], parallelism: 2 } })
    expect(reply.status).toBe(200)
    const items = reply.json() as Array<Record<string, unknown>>
    expect(items.map((item) => [item['key'], item['data']])).toEqual([
      ['b2', { x: 1 }],
      ['missing', undefined],
      ['b1', 'abc'],
    ])
    expect(items[1]).toEqual({ key: 'missing' })
    expect(typeof items[0]?.['etag']).toBe('string')
    expect(items[0]?.['metadata']).toEqual({ ttlExpireTime: expect.stringMatching(/Z$/) as unknown })
    expect((await call(sidecar, 'POST', '/v1.0/state/cache/bulk', { body: { keys: [] } })).json()).toEqual([])
  })

  it('19: transactions apply upserts and deletes atomically, with per-operation TTL; any failure → 500, unknown op → 400', async () => {
    await save(sidecar, [{ key: 'gone', value: 1 }])
    const ok = await call(sidecar, 'POST', '/v1.0/state/cache/transaction', {
      body: {
        operations: [
          { operation: 'upsert', request: { key: 'tx1', value: 'v', metadata: { ttlInSeconds: '1' } } },
          { operation: 'delete', request: { key: 'gone' } },
        ],
      },
    })
    expect(ok.status).toBe(204)
    expect(sidecar.state('cache').get('tx1')).toBe('"v"')
    expect(sidecar.state('cache').get('gone')).toBeUndefined()
    const failing = await call(sidecar, 'POST', '/v1.0/state/cache/transaction', {
      body: {
        operations: [
          { operation: 'upsert', request: { key: 'tx2', value: 1 } },
          { operation: 'upsert', request: { key: 'tx1', value: 2, etag: 'stale' } },
        ],
      },
    })
    expect([failing.status, (failing.json() as { errorCode: string }).errorCode]).toEqual([500, 'ERR_STATE_TRANSACTION'])
    expect(sidecar.state('cache').get('tx2')).toBeUndefined()
    const unknown = await call(sidecar, 'POST', '/v1.0/state/cache/transaction', { body: { operations: [{ operation: 'merge', request: { key: 'x' } }] } })
    expect([unknown.status, unknown.json()]).toEqual([400, { errorCode: 'ERR_NOT_SUPPORTED_STATE_OPERATION', message: 'operation type merge not supported' }])
    clock.advance(1_001)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/tx1')).status).toBe(204)
  })

  it('20: unmatched routes and methods → 404 ERR_DIRECT_INVOKE (GET without a key, an unencoded slash)', async () => {
    for (const [method, path] of [
      ['GET', '/v1.0/state/cache'],
      ['GET', '/v1.0/state/cache/a/b'],
      ['POST', '/v1.0/state/cache/somekey'],
      ['GET', '/v1.0/nothing-here'],
    ] as const) {
      const reply = await call(sidecar, method, path, method === 'POST' ? { body: [] } : {})
      expect([reply.status, reply.json()]).toEqual([
        404,
        { errorCode: 'ERR_DIRECT_INVOKE', message: 'failed getting app id either from the URL path or the header dapr-app-id' },
      ])
    }
  })

  it('21: a body over the limit is read up to the limit, so it fails to decode: 400 ERR_MALFORMED_REQUEST "unexpected EOF"', async () => {
    const small = await startTestSidecar({ maxBodyBytes: 1024 })
    try {
      const reply = await save(small, [{ key: 'k', value: 'x'.repeat(2048) }])
      // The shared notes expected "stream too large"; daprd 1.18.3 answers this (see docs/testing.md).
      expect([reply.status, reply.json()]).toEqual([400, { errorCode: 'ERR_MALFORMED_REQUEST', message: 'unexpected EOF' }])
      expect((await save(small, [{ key: 'k', value: 'x'.repeat(100) }])).status).toBe(204)
    } finally {
      await small.close()
    }
  })

  it('22: with a token, a missing or wrong dapr-api-token → 401 text/plain; only the health probes are exempt', async () => {
    const guarded = await startTestSidecar({ apiToken: 'secret' })
    try {
      for (const headers of [{}, { 'dapr-api-token': 'wrong' }]) {
        const reply = await call(guarded, 'GET', '/v1.0/state/cache/k', { headers })
        expect([reply.status, reply.text, reply.headers['content-type']]).toEqual([401, 'invalid api token\n', 'text/plain; charset=utf-8'])
      }
      expect((await call(guarded, 'GET', '/v1.0/metadata')).status).toBe(401)
      expect((await call(guarded, 'GET', '/v1.0/nothing')).status).toBe(401)
      expect((await call(guarded, 'GET', '/v1.0/healthz')).status).toBe(204)
      expect((await call(guarded, 'GET', '/v1.0/healthz/outbound')).status).toBe(204)
      expect((await call(guarded, 'GET', '/v1.0/state/cache/k', { headers: { 'dapr-api-token': 'secret' } })).status).toBe(204)
    } finally {
      await guarded.close()
    }
  })

  it('23: health probes → 204 when ready, 500 with Dapr codes when not', async () => {
    expect((await call(sidecar, 'GET', '/v1.0/healthz')).status).toBe(204)
    sidecar.setReady(false)
    try {
      expect((await call(sidecar, 'GET', '/v1.0/healthz')).json()).toMatchObject({ errorCode: 'ERR_HEALTH_NOT_READY' })
      const outbound = await call(sidecar, 'GET', '/v1.0/healthz/outbound')
      expect([outbound.status, outbound.json()]).toEqual([500, { errorCode: 'ERR_OUTBOUND_HEALTH_NOT_READY', message: 'dapr outbound is not ready' }])
    } finally {
      sidecar.setReady(true)
    }
  })

  it('24: error bodies carry errorCode and message, with details only where Dapr has them', async () => {
    sidecar.fault({ route: 'get', kind: 'status', times: 1 })
    const get = await call(sidecar, 'GET', '/v1.0/state/cache/k')
    expect(Object.keys(get.json() as object).sort()).toEqual(['errorCode', 'message'])
    const saveError = await save(sidecar, [{ key: 'k', value: 1, options: { concurrency: 'x' } }])
    expect(Object.keys(saveError.json() as object).sort()).toEqual(['errorCode', 'message'])
    const notFound = await call(sidecar, 'GET', '/v1.0/state/nope/k')
    expect(Object.keys(notFound.json() as object).sort()).toEqual(['details', 'errorCode', 'message'])
  })

  it('25: faults: a store error per route, latency, a hang, a reset', async () => {
    sidecar.fault({ route: 'get', key: 'k', kind: 'status', times: 1 })
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/k')).json()).toEqual({
      errorCode: 'ERR_STATE_GET',
      message: 'fail to get k from state store cache: injected fault',
    })
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/k')).status).toBe(204) // times: 1
    sidecar.fault({ route: 'save', kind: 'status', status: 500 })
    expect((await save(sidecar, [{ key: 'k', value: 1 }])).json()).toMatchObject({ errorCode: 'ERR_STATE_SAVE' })
    sidecar.clearFaults()
    sidecar.fault({ route: 'delete', kind: 'status', status: 409, errorCode: 'ERR_STATE_DELETE', message: 'custom' })
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/k')).json()).toEqual({ errorCode: 'ERR_STATE_DELETE', message: 'custom' })
    sidecar.clearFaults()

    const delayed = sidecar.fault({ route: 'get', kind: 'delay', delayMs: 50 })
    const started = performance.now()
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/k')).status).toBe(204)
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
    expect(delayed.hits()).toBe(1)
    delayed.remove()

    sidecar.fault({ route: 'get', kind: 'hang', times: 1 })
    await expect(call(sidecar, 'GET', '/v1.0/state/cache/k', { timeoutMs: 100 })).rejects.toThrow()
    sidecar.fault({ route: 'get', kind: 'reset', times: 1 })
    await expect(call(sidecar, 'GET', '/v1.0/state/cache/k')).rejects.toMatchObject({ code: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/) as unknown })
    sidecar.fault({ route: 'get', kind: 'garbage', times: 1 })
    const garbage = await call(sidecar, 'GET', '/v1.0/state/cache/k')
    expect(garbage.status).toBe(200)
    expect(() => garbage.json()).toThrow()
  })
})

describe('test sidecar: the rest of its contract', () => {
  it('answers /v1.0/metadata as the official SDK expects at start-up', async () => {
    const sidecar = await startTestSidecar({ stores: ['cache', 'sessions'], appId: 'meta' })
    try {
      const reply = await call(sidecar, 'GET', '/v1.0/metadata')
      expect(reply.status).toBe(200)
      expect(reply.json()).toMatchObject({
        id: 'meta',
        runtimeVersion: expect.any(String) as unknown,
        components: [
          { name: 'cache', type: 'state.in-memory', version: 'v1', capabilities: expect.arrayContaining(['ETAG', 'TRANSACTIONAL', 'TTL']) as unknown },
          { name: 'sessions', type: 'state.in-memory' },
          { name: 'pubsub', type: 'pubsub.in-memory', version: 'v1' },
        ],
      })
    } finally {
      await sidecar.close()
    }
  })

  it('logs every request with its route, decoded key, headers, body and status', async () => {
    const sidecar = await startTestSidecar()
    try {
      await save(sidecar, [{ key: 'a b', value: 1 }])
      await call(sidecar, 'GET', '/v1.0/state/cache/a%20b', { headers: { 'x-test': 'yes' } })
      expect(sidecar.requests.map(({ method, path, route, store, key, status }) => ({ method, path, route, store, key, status }))).toEqual([
        { method: 'POST', path: '/v1.0/state/cache', route: 'save', store: 'cache', key: undefined, status: 204 },
        { method: 'GET', path: '/v1.0/state/cache/a%20b', route: 'get', store: 'cache', key: 'a b', status: 200 },
      ])
      expect(sidecar.requests[0]?.body).toBe('[{"key":"a b","value":1}]')
      expect(sidecar.requests[1]?.headers['x-test']).toBe('yes')
      sidecar.clearRequests()
      expect(sidecar.requests).toHaveLength(0)
    } finally {
      await sidecar.close()
    }
  })

  it('refuses connections on demand, then accepts them again on the same port', async () => {
    const sidecar = await startTestSidecar()
    try {
      await sidecar.refuseConnections()
      await expect(request(`${sidecar.url}/v1.0/healthz`, { dispatcher: agent })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      await sidecar.acceptConnections()
      expect((await call(sidecar, 'GET', '/v1.0/healthz')).status).toBe(204)
    } finally {
      await sidecar.close()
    }
  })

  it('a fault with a probability hits about that share of requests', async () => {
    const sidecar = await startTestSidecar()
    try {
      const handle = sidecar.fault({ route: 'get', kind: 'status', probability: 0.5 })
      const statuses = []
      for (let i = 0; i < 200; i++) statuses.push((await call(sidecar, 'GET', '/v1.0/state/cache/k')).status)
      const failed = statuses.filter((status) => status === 500).length
      expect(failed).toBe(handle.hits())
      expect(failed).toBeGreaterThan(60)
      expect(failed).toBeLessThan(140)
      expect(() => sidecar.fault({ kind: 'reset', probability: 2 })).toThrow(/probability/)
    } finally {
      await sidecar.close()
    }
  })

  it('close() ends hanging requests and is idempotent', async () => {
    const sidecar = await startTestSidecar()
    sidecar.fault({ kind: 'hang' })
    const hanging = call(sidecar, 'GET', '/v1.0/state/cache/k')
    while (sidecar.requests.length === 0) await new Promise((resolve) => setImmediate(resolve))
    await sidecar.close()
    await sidecar.close()
    await expect(hanging).rejects.toThrow()
  })

  it('seeds and reads raw state, and refuses an unknown store name plainly', async () => {
    const sidecar = await startTestSidecar()
    try {
      sidecar.state('cache').set('seeded', '"from python"')
      expect((await call(sidecar, 'GET', '/v1.0/state/cache/seeded')).text).toBe('"from python"')
      expect(sidecar.state('cache').entries()).toEqual([['seeded', '"from python"']])
      expect(() => sidecar.state('nope')).toThrow(/no state store named "nope"/)
    } finally {
      await sidecar.close()
    }
  })
})

describe("test sidecar: the 'redis' flavour (checklist item 26, as real daprd on Redis answers)", () => {
  let sidecar: TestSidecar
  const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 0))
  beforeAll(async () => {
    sidecar = await startTestSidecar({ flavour: 'redis', clock })
  })
  afterAll(async () => {
    await sidecar.close()
  })
  beforeEach(() => sidecar.state('cache').clear())

  const etagOf = async (key: string) => (await call(sidecar, 'GET', `/v1.0/state/cache/${key}`)).headers['etag']

  it('reports state.redis and its capabilities', async () => {
    const metadata = (await call(sidecar, 'GET', '/v1.0/metadata')).json() as { components: Array<{ type: string; capabilities: Array<string> }> }
    expect(metadata.components[0]).toMatchObject({ type: 'state.redis', capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'ACTOR'] })
  })

  it('numbers etags 1, 2, ...; creates an absent key for any etag; refuses a non-numeric one with 400', async () => {
    await save(sidecar, [{ key: 'e', value: 1 }])
    expect(await etagOf('e')).toBe('1')
    expect((await save(sidecar, [{ key: 'e', value: 2, etag: '1' }])).status).toBe(204)
    expect(await etagOf('e')).toBe('2')
    expect((await save(sidecar, [{ key: 'e', value: 3, etag: '1' }])).status).toBe(409)
    const invalid = await save(sidecar, [{ key: 'e', value: 3, etag: 'x' }])
    expect([invalid.status, (invalid.json() as { message: string }).message]).toEqual([
      400,
      'failed saving state in state store cache: invalid etag value: strconv.Atoi: parsing "x": invalid syntax',
    ])
    expect((await save(sidecar, [{ key: 'fresh', value: 1, etag: '42' }])).status).toBe(204)
    expect(await etagOf('fresh')).toBe('1')
    expect((await save(sidecar, [{ key: 'e', value: 4, etag: '99', options: { concurrency: 'last-write' } }])).status).toBe(204)
  })

  it('first-write conflicts only with a first-write record, with a 500, and the flag is sticky', async () => {
    const firstWrite = { concurrency: 'first-write' }
    await save(sidecar, [{ key: 'plain', value: 1 }])
    expect((await save(sidecar, [{ key: 'plain', value: 2, options: firstWrite }])).status).toBe(204)
    expect((await save(sidecar, [{ key: 'plain', value: 3 }])).status).toBe(500) // now a first-write record
    await save(sidecar, [{ key: 'lease', value: 1, options: firstWrite }])
    const conflict = await save(sidecar, [{ key: 'lease', value: 2, options: firstWrite }])
    expect([conflict.status, (conflict.json() as { errorCode: string }).errorCode]).toEqual([500, 'ERR_STATE_SAVE'])
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/lease')).status).toBe(204)
    expect((await save(sidecar, [{ key: 'lease', value: 3 }])).status).toBe(204)
  })

  it('keeps the expiry on a write without a TTL, persists on 0, and reports no ttlExpireTime', async () => {
    await save(sidecar, [{ key: 't', value: 1, metadata: { ttlInSeconds: '10' } }])
    await save(sidecar, [{ key: 't', value: 2 }])
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/t')).headers['metadata.ttlexpiretime']).toBeUndefined()
    clock.advance(10_000)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/t')).status).toBe(204)
    await save(sidecar, [{ key: 'p', value: 1, metadata: { ttlInSeconds: '10' } }])
    await save(sidecar, [{ key: 'p', value: 1, metadata: { ttlInSeconds: '0' } }])
    clock.advance(20_000)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/p')).status).toBe(200)
  })

  it('answers 409 for every failed delete, and 204 for If-Match on an absent key', async () => {
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/absent', { headers: { 'if-match': '7' } })).status).toBe(204)
    await save(sidecar, [{ key: 'd', value: 1 }])
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/d', { headers: { 'if-match': 'x' } })).status).toBe(409)
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/d', { headers: { 'if-match': '1' } })).status).toBe(204)
  })

  it('stores values as json-iterator writes them: no HTML escaping, floats to six decimals', async () => {
    await save(sidecar, [{ key: 'v', value: ['<&>', 0.1234567, 1e-7, 1e21, -2.5] }])
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/v')).text).toBe('["<&>",0.123457,0,1e+21,-2.5]')
  })
})

describe("test sidecar: the 'postgres' flavour (state.postgresql v2, as real daprd on PostgreSQL answers)", () => {
  let sidecar: TestSidecar
  const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 0))
  beforeAll(async () => {
    sidecar = await startTestSidecar({ flavour: 'postgres', clock })
  })
  afterAll(async () => {
    await sidecar.close()
  })
  beforeEach(() => sidecar.state('cache').clear())

  const etagOf = async (key: string) => (await call(sidecar, 'GET', `/v1.0/state/cache/${key}`)).headers['etag']
  const message = (answer: { json: () => unknown }) => (answer.json() as { message: string }).message

  it('reports state.postgresql version 2 and its capabilities', async () => {
    const metadata = (await call(sidecar, 'GET', '/v1.0/metadata')).json() as { components: ReadonlyArray<object> }
    expect(metadata.components[0]).toMatchObject({ type: 'state.postgresql', version: 'v2', capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'ACTOR'] })
  })

  it('refuses first-write over a live row with a 500 "no item was updated", not a 409; an expired row is free', async () => {
    const firstWrite = { concurrency: 'first-write' }
    expect((await save(sidecar, [{ key: 'lease', value: 1, options: firstWrite, metadata: { ttlInSeconds: '5' } }])).status).toBe(204)
    const conflict = await save(sidecar, [{ key: 'lease', value: 2, options: firstWrite }])
    expect([conflict.status, message(conflict)]).toEqual([500, 'failed saving state in state store cache: no item was updated'])
    clock.advance(5_001)
    expect((await save(sidecar, [{ key: 'lease', value: 3, options: firstWrite }])).status).toBe(204)
  })

  it('takes only UUID etags: another form is a 409 naming the parse error, a stale one a 409 with no detail', async () => {
    await save(sidecar, [{ key: 'e', value: 1 }])
    const etag = (await etagOf('e')) as string
    expect(etag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    const short = await save(sidecar, [{ key: 'e', value: 2, etag: '12' }])
    expect([short.status, message(short)]).toEqual([409, 'failed saving state in state store cache: possible etag mismatch. error from state store: invalid UUID length: 2'])
    expect((await save(sidecar, [{ key: 'e', value: 2, etag: etag.toUpperCase() }])).status).toBe(204) // parsed, so any case
    const stale = await save(sidecar, [{ key: 'e', value: 3, etag }])
    expect([stale.status, message(stale)]).toEqual([409, 'failed saving state in state store cache: possible etag mismatch. error from state store'])
  })

  it('ignores options on DELETE; with an etag it deletes that row only', async () => {
    await save(sidecar, [{ key: 'd', value: 1 }])
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/d?concurrency=bogus')).status).toBe(204)
    await save(sidecar, [{ key: 'd', value: 1 }])
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/d', { headers: { 'if-match': randomUUID() } })).status).toBe(409)
    expect((await call(sidecar, 'DELETE', '/v1.0/state/cache/d', { headers: { 'if-match': (await etagOf('d')) as string } })).status).toBe(204)
  })

  it('answers a bulk get found rows first, a key asked twice once, padded with empty entries', async () => {
    await save(sidecar, [{ key: 'b', value: 2 }, { key: 'a', value: 1 }])
    const answer = await call(sidecar, 'POST', '/v1.0/state/cache/bulk', { body: { keys: ['missing', 'a', 'a', 'b'] } })
    expect((answer.json() as ReadonlyArray<{ key: string }>).map(({ key }) => key)).toEqual(['b', 'a', 'missing', ''])
  })

  it('runs a transaction all or nothing, in order', async () => {
    await save(sidecar, [{ key: 'kept', value: 1 }])
    const operations = [
      { operation: 'delete', request: { key: 'kept' } },
      { operation: 'upsert', request: { key: 'new', value: 1, etag: randomUUID() } },
    ]
    const failed = await call(sidecar, 'POST', '/v1.0/state/cache/transaction', { body: { operations } })
    expect([failed.status, message(failed)]).toEqual([500, 'error while executing state transaction: possible etag mismatch. error from state store'])
    expect(sidecar.state('cache').entries()).toEqual([['kept', '1']])
    // In order: an upsert then a delete of one key leaves nothing; a delete then an upsert, the value.
    const transaction = (ops: ReadonlyArray<object>) => call(sidecar, 'POST', '/v1.0/state/cache/transaction', { body: { operations: ops } })
    await transaction([{ operation: 'upsert', request: { key: 'x', value: 1 } }, { operation: 'delete', request: { key: 'x' } }])
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/x')).status).toBe(204)
    await transaction([{ operation: 'delete', request: { key: 'x' } }, { operation: 'upsert', request: { key: 'x', value: 2 } }])
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/x')).text).toBe('2')
  })
})

describe("test sidecar: the 'mongodb' flavour (state.mongodb, as daprd answers on FerretDB)", () => {
  let sidecar: TestSidecar
  const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 0))
  beforeAll(async () => {
    sidecar = await startTestSidecar({ flavour: 'mongodb', clock })
  })
  afterAll(async () => {
    await sidecar.close()
  })
  beforeEach(() => sidecar.state('cache').clear())

  it('expires a value saved with a TTL of 0 at once, where other components keep it', async () => {
    await save(sidecar, [{ key: 'zero', value: 1, metadata: { ttlInSeconds: '0' } }])
    clock.advance(1)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/zero')).status).toBe(204)
  })

  it('refuses a first-write over an expired document, until something deletes it', async () => {
    const firstWrite = { concurrency: 'first-write' }
    expect((await save(sidecar, [{ key: 'lease', value: 1, options: firstWrite, metadata: { ttlInSeconds: '1' } }])).status).toBe(204)
    clock.advance(2_000)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/lease')).status).toBe(204)
    const refused = await save(sidecar, [{ key: 'lease', value: 2, options: firstWrite }])
    expect(refused.status).toBe(409)
    expect(await call(sidecar, 'DELETE', '/v1.0/state/cache/lease').then((answer) => answer.status)).toBe(204)
    expect((await save(sidecar, [{ key: 'lease', value: 3, options: firstWrite }])).status).toBe(204)
  })

  it("creates an absent key for any etag, and stores a string as Go's %q writes it", async () => {
    expect((await save(sidecar, [{ key: 'fresh', value: 'a\u0001<b>', etag: 'anything' }])).status).toBe(204)
    expect((await call(sidecar, 'GET', '/v1.0/state/cache/fresh')).text).toBe('"a\\x01<b>"')
  })

  it("quotes as Go's strconv.Quote", () => {
    expect(goQuote('tab\tquote"back\\')).toBe('"tab\\tquote\\"back\\\\"')
    expect(goQuote('\u007f\u00a0\u00ad\u00e9\u2028😀')).toBe('"\\x7f\\u00a0\\u00adé\\u2028😀"')
  })
})

describe("test sidecar: the 'redis-cluster' flavour (state.redis on a Redis Cluster)", () => {
  it('computes Redis Cluster hash slots, hash tags included', () => {
    // Values from Redis's cluster specification and CLUSTER KEYSLOT.
    expect(hashSlot('123456789')).toBe(0x31c3 % 16384)
    expect(hashSlot('foo')).toBe(12182)
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'))
    expect(hashSlot('foo{}{bar}')).not.toBe(hashSlot('bar')) // an empty first tag: the whole key is hashed
    expect(hashSlot('foo{{bar}}zap')).toBe(hashSlot('{bar'))
  })

  it('refuses a transaction over keys of several hash slots whole, and runs one within a slot', async () => {
    const sidecar = await startTestSidecar({ flavour: 'redis-cluster' })
    try {
      // The component sees "test-app||<key>": a hash tag in the key puts keys in one slot.
      const spread = [
        { operation: 'upsert', request: { key: 'a', value: 1 } },
        { operation: 'upsert', request: { key: 'b', value: 2 } },
      ]
      expect(hashSlot('test-app||a')).not.toBe(hashSlot('test-app||b'))
      const refused = await call(sidecar, 'POST', '/v1.0/state/cache/transaction', { body: { operations: spread } })
      expect([refused.status, (refused.json() as { message: string }).message]).toEqual([500, "error while executing state transaction: CROSSSLOT Keys in request don't hash to the same slot"])
      expect(sidecar.state('cache').entries()).toEqual([])
      const tagged = [
        { operation: 'upsert', request: { key: '{t}a', value: 1 } },
        { operation: 'upsert', request: { key: '{t}b', value: 2 } },
      ]
      expect((await call(sidecar, 'POST', '/v1.0/state/cache/transaction', { body: { operations: tagged } })).status).toBe(204)
      expect(sidecar.state('cache').entries()).toHaveLength(2)
    } finally {
      await sidecar.close()
    }
  })
})

describe('Go JSON encoders', () => {
  it('goDecode gives the errors Go does for empty and cut-short bodies', () => {
    expect(goDecode('')).toEqual({ error: 'EOF' })
    expect(goDecode('[{"key":')).toEqual({ error: 'unexpected EOF' })
    expect(goDecode('{')).toEqual({ error: 'unexpected EOF' })
    expect(goDecode('[1]')).toEqual({ value: [1] })
  })
})
