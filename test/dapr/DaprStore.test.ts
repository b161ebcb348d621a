/**
 * The Dapr store against the real runtime, on both components: the Store conformance suite (TTLs in
 * real time), the Python wire format in both directions, checked on daprd's answers and, on Redis,
 * on the bytes Redis itself holds.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { pythonVectors } from '../helpers.js'
import { describeStore } from '../storeConformance.js'
import { flavours, raw, redisCli, sleep } from './helpers.js'
import { itRestartsUnderLoad } from './restartUnderLoad.js'

describe('daprStore and the API token on real daprd', () => {
  it('sends dapr-api-token on every call; a wrong one is a 401 StoreRejected that does not show the token', async () => {
    const daprd = await startDaprd({ apiToken: 's3cret' })
    const good = daprStore({ daprUrl: daprd.url, apiToken: 's3cret', env: {}, breaker: false })
    const bad = daprStore({ daprUrl: daprd.url, apiToken: 'wrong-token', env: {}, breaker: false })
    try {
      expect(E.isRight(await good.set('k', Uint8Array.of(1), 60)())).toBe(true)
      expect(await good.get('k')()).toEqual(E.right(O.some(Uint8Array.of(1))))
      const refused = await bad.get('k')()
      expect(E.isLeft(refused) && refused.left).toMatchObject({ _tag: 'StoreRejected', status: 401 })
      expect(E.isLeft(refused) && refused.left.message).not.toContain('wrong-token')
      expect(await good.isReady()).toBe(true)
    } finally {
      await good.close()
      await bad.close()
      await daprd.close()
    }
  })
})

const vectors = pythonVectors

describe.each(flavours)('daprStore on real daprd (%s)', (flavour) => {
  let daprd: Daprd
  beforeAll(async () => {
    daprd = await startDaprd({ flavour })
  })
  afterAll(async () => {
    await daprd.close()
  })

  describeStore(`daprStore on real daprd (${flavour})`, async () => {
    const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false })
    return {
      store,
      // daprd's clock is the real one: time passes by waiting, and checks keep clear of a TTL's end.
      elapse: sleep,
      marginMs: 600,
      teardown: () => store.close(),
    }
  })

  describeStore(`daprStore on real daprd (${flavour}), reads batched`, async () => {
    const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false, batch: true })
    return { store, elapse: sleep, marginMs: 600, teardown: () => store.close() }
  })

  describe('the Python wire format', () => {
    let store: ReturnType<typeof daprStore>
    beforeAll(() => {
      store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false })
    })
    afterAll(() => store.close())

    it.each(vectors.values.map((vector) => [vector.wire.slice(0, 40), vector] as const))('stores %s exactly as Python does', async (_wire, vector) => {
      const key = `cache:wire:${vector.msgpack_hex.slice(0, 16)}`
      expect(E.isRight(await store.set(key, Buffer.from(vector.msgpack_hex, 'hex'), 60)())).toBe(true)
      const answer = await raw(daprd.url, 'GET', `/v1.0/state/cache/${encodeURIComponent(key)}`)
      expect([answer.status, answer.body]).toEqual([200, vector.wire])
      if (daprd.redis !== undefined) {
        // What Redis holds: a hash per key under `<appId>||<key>`, the value in its `data` field.
        expect(await redisCli(daprd.redis.port, 'HGET', `test-app||${key}`, 'data')).toBe(vector.wire)
      }
    })

    it.each(vectors.values.map((vector) => [vector.wire.slice(0, 40), vector] as const))('reads %s as Python wrote it', async (_wire, vector) => {
      const key = `cache:python:${vector.msgpack_hex.slice(0, 16)}`
      // The request the Python library sends: the base64 string as the JSON value, the TTL as a string.
      const body = `[{"key": ${JSON.stringify(key)}, "value": ${vector.wire}, "metadata": {"ttlInSeconds": "60"}}]`
      expect((await raw(daprd.url, 'POST', '/v1.0/state/cache', body)).status).toBe(204)
      expect(await store.get(key)()).toEqual(E.right(O.some(new Uint8Array(Buffer.from(vector.msgpack_hex, 'hex')))))
    })

    it('maps an unknown store to StoreRejected ERR_STATE_STORE_NOT_FOUND, as daprd answers it', async () => {
      const nowhere = daprStore({ daprUrl: daprd.url, env: {}, breaker: false, storeName: 'nope' })
      try {
        for (const result of [await nowhere.get('k')(), await nowhere.set('k', Uint8Array.of(1), 60)(), await nowhere.delete('k')()]) {
          expect(E.isLeft(result) && result.left).toMatchObject({ _tag: 'StoreRejected', status: 400, errorCode: 'ERR_STATE_STORE_NOT_FOUND' })
        }
      } finally {
        await nowhere.close()
      }
    })

    it('refuses a key containing || before any request, as daprd would', async () => {
      const result = await store.get('a||b')()
      expect(E.isLeft(result) && result.left._tag).toBe('KeyError')
      expect((await raw(daprd.url, 'GET', `/v1.0/state/cache/${encodeURIComponent('a||b')}`)).status).toBe(400)
    })
  })
})

describe('real daprd (redis), the server restarted under load', () => {
  itRestartsUnderLoad('redis', async () => {
    const daprd = await startDaprd({ flavour: 'redis', pubsubs: [] })
    const server = daprd.redis
    if (server === undefined) throw new Error('startDaprd started no private Redis')
    return { daprd, server }
  })
})
