/**
 * The Dapr store on `state.mongodb` over a private MongoDB-compatible server: FerretDB 2 over
 * PostgreSQL with the DocumentDB extension (no MongoDB server can be installed here). The same
 * suites as every component: the store conformance suite, six daprds on one server, the tag
 * scenarios, a restart under load, and the differential cases against the test sidecar's
 * 'mongodb' flavour. Not in `npm run test:dapr`, which CI runs: CI cannot install
 * DocumentDB (no registry it reaches serves it). `npm run test:mongodb` runs it where DocumentDB is
 * installed (docs/dapr-store.md, "MongoDB").
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeComponent } from './components.js'
import { describeDifferential } from './differential.js'
import { sleep } from './helpers.js'

// The test sidecar's 'mongodb' flavour held to daprd on this server.
describeDifferential(['mongodb'])

describeComponent(
  'mongodb',
  'MongoDB (FerretDB)',
  (owner) => ({ mongodbHost: owner.mongodb?.host }),
  (daprd) => daprd.mongodb,
)

describe('an expired entry before the TTL monitor removes it (MongoDB)', () => {
  // The component filters expired documents out of every read, but a first-write is an upsert
  // filtered on a fresh etag: an expired document still there is a duplicate key, a conflict. So
  // a lease whose holder died stays taken until the TTL monitor runs (about once a minute).
  let daprd: Daprd
  beforeAll(async () => {
    daprd = await startDaprd({ flavour: 'mongodb', pubsubs: [] })
  }, 60_000)
  afterAll(async () => {
    await daprd.close()
  })

  it('is served by no read, yet a first-write (a lease) on its key is refused', async () => {
    // DocumentDB's TTL monitor is a pg_cron job, once a minute: paused, so that it cannot remove
    // the document during the test (it would, in one run of about twenty).
    await promisify(execFile)('psql', [daprd.mongodb?.postgresConnection ?? '', '-qc', "SELECT cron.unschedule('documentdb_ttl_task')"])
    const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false })
    try {
      const key = 'expires-soon'
      expect(await store.setIf?.(key, Uint8Array.of(1), 1, undefined)()).toEqual(E.right(true))
      await sleep(2_100)
      expect(await store.get(key)()).toEqual(E.right(O.none))
      expect(await store.getMany?.([key])()).toEqual(E.right([E.right(O.none)]))
      expect(await store.getVersioned?.(key)()).toEqual(E.right(O.none))
      expect(await store.setIf?.(key, Uint8Array.of(2), 60, undefined)()).toEqual(E.right(false))
      // An ordinary write replaces it, and reads see the new value.
      expect(E.isRight(await store.set(key, Uint8Array.of(3), 60)())).toBe(true)
      expect(await store.get(key)()).toEqual(E.right(O.some(Uint8Array.of(3))))
    } finally {
      await store.close()
    }
  }, 30_000)
})
