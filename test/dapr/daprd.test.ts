/**
 * `startDaprd` on the real runtime: what it starts, what it reports, and that `close()` leaves no
 * process and no folder behind.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import path from 'node:path'
import { DAPR_VERSION, startDaprd } from '../../src/testing/index.js'
import { alive, raw, redisCli } from './helpers.js'

interface Metadata {
  readonly id: string
  readonly runtimeVersion: string
  readonly components: ReadonlyArray<{ readonly name: string; readonly type: string; readonly capabilities?: ReadonlyArray<string> }>
}

const daprdFolders = (): ReadonlyArray<string> => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('dapr-state-cache-daprd-'))

describe('startDaprd', () => {
  it("starts daprd and a private Redis with the 'redis' flavour; close() stops both", async () => {
    const daprd = await startDaprd({ flavour: 'redis', appId: 'launcher-test' })
    const pids = [daprd.pid, daprd.redis?.pid ?? -1]
    try {
      expect(daprd.version).toBe(DAPR_VERSION)
      const metadata = JSON.parse((await raw(daprd.url, 'GET', '/v1.0/metadata')).body) as Metadata
      expect(metadata.id).toBe('launcher-test')
      expect(metadata.runtimeVersion).toBe(DAPR_VERSION)
      expect(metadata.components).toEqual([expect.objectContaining({ name: 'cache', type: 'state.redis' }), { name: 'pubsub', type: 'pubsub.redis', version: 'v1' }])
      expect(pids.every(alive)).toBe(true)
      expect(await redisCli(daprd.redis?.port ?? 0, 'PING')).toBe('PONG')
      expect(await redisCli(daprd.redis?.port ?? 0, 'CONFIG', 'GET', 'save')).toBe('save')
      expect(fs.readdirSync(daprd.resourcesPath).sort()).toEqual(['cache.yaml', 'pubsub.yaml'])
      expect(daprdFolders()).toContain(path.basename(daprd.resourcesPath))
    } finally {
      await daprd.close()
    }
    expect(pids.map(alive)).toEqual([false, false])
    expect(fs.existsSync(daprd.resourcesPath)).toBe(false)
    await daprd.close() // idempotent
  })

  it("gives every store the in-memory component with the 'in-memory' flavour, and no Redis", async () => {
    const daprd = await startDaprd({ stores: ['cache', 'sessions'] })
    try {
      expect(daprd.redis).toBeUndefined()
      const metadata = JSON.parse((await raw(daprd.url, 'GET', '/v1.0/metadata')).body) as Metadata
      expect(metadata.components.map((component) => [component.name, component.type]).sort()).toEqual([
        ['cache', 'state.in-memory'],
        ['pubsub', 'pubsub.in-memory'],
        ['sessions', 'state.in-memory'],
      ])
      expect(metadata.components[0]?.capabilities).toEqual(expect.arrayContaining(['ETAG', 'TRANSACTIONAL', 'TTL']))
    } finally {
      await daprd.close()
    }
    expect(alive(daprd.pid)).toBe(false)
  })

  it('writes no pub/sub component with pubsubs: [], and refuses a pub/sub name that is also a store', async () => {
    const daprd = await startDaprd({ pubsubs: [] })
    try {
      const metadata = JSON.parse((await raw(daprd.url, 'GET', '/v1.0/metadata')).body) as Metadata
      expect(metadata.components.map((component) => component.name)).toEqual(['cache'])
    } finally {
      await daprd.close()
    }
    await expect(startDaprd({ pubsubs: ['cache'] })).rejects.toMatchObject({ code: 'E_DAPRD_OPTIONS' })
    await expect(startDaprd({ appPort: 0 })).rejects.toMatchObject({ code: 'E_DAPRD_OPTIONS' })
  })

  it('requires the API token when one is given, except on the health probes', async () => {
    const daprd = await startDaprd({ apiToken: 'let-me-in' })
    try {
      expect((await raw(daprd.url, 'GET', '/v1.0/state/cache/k')).status).toBe(401)
      expect((await raw(daprd.url, 'GET', '/v1.0/state/cache/k', undefined, { 'dapr-api-token': 'let-me-in' })).status).toBe(204)
      expect((await raw(daprd.url, 'GET', '/v1.0/healthz')).status).toBe(204)
    } finally {
      await daprd.close()
    }
  })

  it('listens on loopback only, on the ports it picked', async () => {
    const daprd = await startDaprd()
    try {
      expect(daprd.url).toBe(`http://127.0.0.1:${daprd.httpPort}`)
      expect((await raw(`http://127.0.0.1:${daprd.httpPort}`, 'GET', '/v1.0/healthz/outbound')).status).toBe(204)
    } finally {
      await daprd.close()
    }
  })

  it('uses a Redis it is given, and leaves it running', async () => {
    const owner = await startDaprd({ flavour: 'redis' })
    try {
      const guest = await startDaprd({ flavour: 'redis', redisHost: owner.redis?.host ?? '' })
      expect(guest.redis).toBeUndefined()
      await raw(guest.url, 'POST', '/v1.0/state/cache', JSON.stringify([{ key: 'shared', value: 'from guest' }]))
      await guest.close()
      expect(alive(owner.redis?.pid ?? -1)).toBe(true)
      // Both sidecars have the app id test-app, so they share keys in the one Redis.
      expect((await raw(owner.url, 'GET', '/v1.0/state/cache/shared')).body).toBe('"from guest"')
    } finally {
      await owner.close()
    }
  })
})
