/**
 * Replicas in the production topology: each replica process with its own real daprd, every daprd on
 * one real Redis (startDaprd with a shared redisHost). The multi-process scenarios of
 * test/replicas/scenarios.ts, plus the lease on a single daprd with the in-memory component.
 */
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeBackplaneScenarios } from '../replicas/backplane.js'
import { describeReplicaScenarios } from '../replicas/scenarios.js'
import { raw, startMany } from './helpers.js'

describe('six daprds on one Redis', () => {
  let redisOwner: Daprd
  let daprds: ReadonlyArray<Daprd> = []
  beforeAll(async () => {
    redisOwner = await startDaprd({ flavour: 'redis' })
    const host = redisOwner.redis?.host ?? ''
    daprds = [redisOwner, ...(await startMany(5, () => startDaprd({ flavour: 'redis', redisHost: host })))]
  })
  afterAll(async () => {
    await Promise.all(daprds.slice(1).map((daprd) => daprd.close()))
    await redisOwner.close()
  })

  describeReplicaScenarios('six daprds, one Redis', () => ({
    url: (index) => (daprds[index % daprds.length] as Daprd).url,
    stored: async (key) => {
      const answer = await raw((daprds[0] as Daprd).url, 'GET', `/v1.0/state/cache/${encodeURIComponent(key)}`)
      return answer.status === 200 ? answer.body : undefined
    },
  }))
})

describe('one daprd with the in-memory component', () => {
  let daprd: Daprd
  beforeAll(async () => {
    daprd = await startDaprd({ flavour: 'in-memory' })
  })
  afterAll(async () => {
    await daprd.close()
  })

  describeReplicaScenarios('one daprd, in-memory', () => ({
    url: () => daprd.url,
    stored: async (key) => {
      const answer = await raw(daprd.url, 'GET', `/v1.0/state/cache/${encodeURIComponent(key)}`)
      return answer.status === 200 ? answer.body : undefined
    },
  }))
})

describe('three replicas, each with its own daprd delivering pub/sub to it, on one Redis', () => {
  let redisOwner: Daprd | undefined
  const daprds: Array<Daprd> = []
  describeBackplaneScenarios(
    'real daprd, pubsub.redis',
    () => ({
      start: async (index, httpPort, appPort) => {
        const daprd = await startDaprd({ flavour: 'redis', httpPort, appPort, ...(redisOwner?.redis === undefined ? {} : { redisHost: redisOwner.redis.host }) })
        redisOwner ??= daprd
        daprds[index] = daprd
      },
      forget: async (key) => {
        await raw((daprds[0] as Daprd).url, 'DELETE', `/v1.0/state/cache/${encodeURIComponent(key)}`)
      },
      stop: async () => {
        await Promise.all(daprds.slice(1).map((daprd) => daprd.close()))
        await redisOwner?.close()
      },
      faults: {
        stopRedis: async () => redisOwner?.redis?.stop(),
        startRedis: async () => redisOwner?.redis?.start(),
        killSidecar: async (index) => daprds[index]?.kill(),
        restartSidecar: async (index) => daprds[index]?.restart(),
      },
    }),
    true,
  )
})
