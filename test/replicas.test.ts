/**
 * Replicas as real processes, sharing one test sidecar of each flavour: the multi-process scenarios of
 * test/replicas/scenarios.ts. (On real daprds with Redis: test/dapr/replicas.test.ts.)
 */
import type { TestSidecar } from '../src/testing/index.js'
import { startTestSidecar } from '../src/testing/index.js'
import { describeBackplaneScenarios } from './replicas/backplane.js'
import { describeReplicaScenarios } from './replicas/scenarios.js'

jest.setTimeout(60_000)

describe.each(['in-memory', 'redis'] as const)('on the test sidecar (%s flavour)', (flavour) => {
  let sidecar: TestSidecar
  beforeAll(async () => {
    sidecar = await startTestSidecar({ flavour })
  })
  afterAll(async () => {
    await sidecar.close()
  })
  describeReplicaScenarios(`test sidecar, ${flavour}`, () => ({
    url: () => sidecar.url,
    stored: (key) => Promise.resolve(sidecar.state('cache').get(key)),
  }))
})

describe('three replicas, each with its own test sidecar (one shared state and bus)', () => {
  const sidecars: Array<TestSidecar> = []
  describeBackplaneScenarios('test sidecars', () => ({
    start: async (index, httpPort, appPort) => {
      sidecars[index] = await startTestSidecar({ port: httpPort, appPort, ...(sidecars[0] === undefined ? {} : { replicaOf: sidecars[0] }) })
    },
    // An entry that expired: gone for every reader (this test's function has no other key stored).
    forget: () => Promise.resolve(sidecars[0]?.state('cache').clear()),
    stop: async () => {
      await Promise.all(sidecars.map((sidecar) => sidecar.close()))
    },
  }))
})
