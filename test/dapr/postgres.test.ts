/**
 * The Dapr store on `state.postgresql` (v2) over a private PostgreSQL server: the store conformance
 * suite (ETags and first-write, TTLs in real time, bulk operations), as on the other components,
 * and the replica scenarios (the lease across six replica processes computing once, invalidation
 * that wins, refresh ahead, the tier) with six daprds on one PostgreSQL, the tag scenarios (the
 * versioned index on ETags and first-write, transactions of deletes), and a restart under load.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { postgresTablePrefix } from '../../src/testing/daprd/components.js'
import { describeComponent } from './components.js'
import { raw, sleep } from './helpers.js'

describeComponent(
  'postgres',
  'PostgreSQL',
  (owner) => ({ postgresConnection: owner.postgres?.connectionString }),
  (daprd) => daprd.postgres,
)

describe('an expired row between its expiry and the component\'s cleanup (PostgreSQL)', () => {
  // The component deletes expired rows on a timer (cleanupInterval, an hour by default); until
  // then the row is in the table, and every read must still treat it as gone.
  let daprd: Daprd
  beforeAll(async () => {
    daprd = await startDaprd({ flavour: 'postgres', pubsubs: [], stores: ['cache', 'sessions', 'Cache', '1cache'] })
  }, 60_000)
  afterAll(async () => {
    await daprd.close()
  })

  it('keeps each store in a table of its own', async () => {
    await raw(daprd.url, 'POST', '/v1.0/state/cache', JSON.stringify([{ key: 'mine', value: 1 }]))
    expect((await raw(daprd.url, 'GET', '/v1.0/state/cache/mine')).status).toBe(200)
    // Names PostgreSQL would fold together, or not take unquoted, still get tables of their own.
    for (const other of ['sessions', 'Cache', '1cache']) expect((await raw(daprd.url, 'GET', `/v1.0/state/${other}/mine`)).status).toBe(204)
  })

  const rowsOf = async (key: string): Promise<number> => {
    const sql = `SELECT count(*) FROM ${postgresTablePrefix('cache')}state WHERE key = 'test-app||${key}'`
    const { stdout } = await promisify(execFile)('psql', [daprd.postgres?.connectionString ?? '', '-tAc', sql])
    return Number(stdout.trim())
  }

  it('is in the table, yet not served by a read, a bulk read or a versioned read, and first-write takes its place', async () => {
    const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false })
    try {
      const key = 'expires-soon'
      expect(E.isRight(await store.set(key, Uint8Array.of(1, 2, 3), 1)())).toBe(true)
      await sleep(2_100) // past the expiry, whatever the second it fell in
      expect(await rowsOf(key)).toBe(1)
      expect(await store.get(key)()).toEqual(E.right(O.none))
      expect(await store.getMany?.([key, 'never-written'])()).toEqual(E.right([E.right(O.none), E.right(O.none)]))
      expect((await raw(daprd.url, 'GET', `/v1.0/state/cache/${key}`)).status).toBe(204)
      const versioned = await store.getVersioned?.(key)()
      expect(versioned).toEqual(E.right(O.none))
      // A lease (first-write) on the expired row is granted: the upsert replaces an expired row.
      expect(await store.setIf?.(key, Uint8Array.of(9), 60, undefined)()).toEqual(E.right(true))
      expect(await rowsOf(key)).toBe(1)
      expect(await store.get(key)()).toEqual(E.right(O.some(Uint8Array.of(9))))
    } finally {
      await store.close()
    }
  }, 30_000)
})
