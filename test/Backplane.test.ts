/**
 * The backplane in one process: replicas, each with its own test sidecar (sharing state stores and
 * the pub/sub bus, as one app's sidecars share one Redis) and its own backplane serving daprd's
 * calls on a port of its own. Real sockets throughout: publishes go to the sidecar, deliveries come
 * back as CloudEvents POSTed to the backplane's endpoint.
 */
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { backplane, cache, cacheable, daprStore, defaultBackplane, memoryStore, withBackplane, withKey, withL1 } from '../src/index.js'
import { BACKPLANE_ROUTE } from '../src/Backplane.js'
import { defaultKeyBuilder } from '../src/Key.js'
import { freePorts } from '../src/testing/daprd/processes.js'
import type { Backplane } from '../src/index.js'
import type { DaprStore } from '../src/stores/DaprStore.js'
import type { TestSidecar } from '../src/testing/index.js'
import { startTestSidecar } from '../src/testing/index.js'
import { deferred, eventually } from './helpers.js'
import * as E from 'fp-ts/lib/Either.js'
import { readMessage, sequences } from '../src/internal/messages.js'
import { l1 } from '../src/stores/L1.js'
import { createServer } from 'node:http'

interface Node {
  readonly sidecar: TestSidecar
  readonly bus: Backplane
  readonly store: DaprStore
}

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

const quiet = { warn: () => undefined }

/** `count` replicas of one app: the first sidecar's state and bus are shared by the others. */
const replicas = async (
  count: number,
  options: { heartbeatMs?: number; suspectAfterMs?: number; publishTimeoutMs?: number; logger?: { warn: (m: string) => void } } = {},
): Promise<ReadonlyArray<Node>> => {
  const nodes: Array<Node> = []
  for (let i = 0; i < count; i++) {
    const sidecar = await startTestSidecar(nodes[0] === undefined ? {} : { replicaOf: nodes[0].sidecar })
    closers.push(sidecar.close)
    const bus = backplane({ daprUrl: sidecar.url, heartbeatMs: options.heartbeatMs ?? 100, suspectAfterMs: options.suspectAfterMs ?? 1000, publishTimeoutMs: options.publishTimeoutMs, logger: options.logger ?? quiet })
    closers.push(bus.close)
    sidecar.connectApp(await bus.listen(0))
    const store = daprStore({ daprUrl: sidecar.url })
    closers.push(store.close)
    nodes.push({ sidecar, bus, store })
  }
  await eventually(() => nodes.every((node) => node.bus.trusted()))
  return nodes
}

/**
 * One function on two replicas, without a tier: B's computations wait for `gate` (`started` counts
 * them), A's do not; both read `source`. `stored()`: how many entries the shared store holds.
 */
const heldOnSecond = (nodes: ReadonlyArray<Node>) => {
  const [first, second] = nodes as [Node, Node]
  const source = { version: 1 }
  const gate = deferred()
  const started = { count: 0 }
  const on = (node: Node) =>
    cacheable({ store: node.store, name: 'slow', ttlSeconds: 60, backplane: node.bus, logger: quiet })(async (id: number) => {
      const version = source.version
      if (node === second) {
        started.count++
        await gate.promise
      }
      return { id, version }
    })
  const [a, b] = [on(first), on(second)]
  const stored = () => first.sidecar.state('cache').entries().length
  return { first, a, b, source, gate, started, stored }
}

/** The same function on every replica, with the in-process tier and the backplane; `source` is what it reads. */
const everywhere = (nodes: ReadonlyArray<Node>, source: { version: number }, options: { l1TtlSeconds?: number } = {}) =>
  nodes.map((node) => {
    const calls = { count: 0 }
    const fn = cacheable({ store: node.store, name: 'user', ttlSeconds: 60, l1: { ttlSeconds: options.l1TtlSeconds ?? 60 }, backplane: node.bus, logger: quiet })(async (id: number) => {
      calls.count++
      return { id, version: source.version }
    })
    return { fn: fn, calls }
  })

describe('backplane', () => {
  it('an invalidate on one replica drops the entry from every other replica’s tier', async () => {
    const nodes = await replicas(3)
    const source = { version: 1 }
    const fns = everywhere(nodes, source)
    expect(await fns[0]?.fn(7)).toEqual({ id: 7, version: 1 })
    // The others hear of the first replica's write, then read it and keep it.
    await eventually(() => nodes.every((node, i) => i === 0 || node.bus.stats().received === 1))
    for (const { fn } of fns) expect(await fn(7)).toEqual({ id: 7, version: 1 })
    // Each replica now serves version 1 from its tier for a minute.
    source.version = 2
    for (const { fn } of fns) expect(await fn(7)).toEqual({ id: 7, version: 1 })
    await fns[0]?.fn.invalidate(7)
    await eventually(() => nodes.every((node, i) => i === 0 || node.bus.stats().received === 2))
    const seen = await Promise.all(fns.map(({ fn }) => fn(7)))
    expect(seen).toEqual([{ id: 7, version: 2 }, { id: 7, version: 2 }, { id: 7, version: 2 }])
  })

  it('a new value written on one replica replaces the others’ tier copies', async () => {
    const nodes = await replicas(2)
    const source = { version: 1 }
    const [a, b] = everywhere(nodes, source)
    if (a === undefined || b === undefined) throw new Error('two replicas')
    expect(await b.fn(1)).toEqual({ id: 1, version: 1 })
    // The store loses the entry behind every tier's back (it expired, say); A computes anew.
    nodes[0]?.sidecar.state('cache').clear()
    source.version = 2
    expect(await a.fn(1)).toEqual({ id: 1, version: 2 })
    // A's write is published: B drops its copy and reads A's value from the store.
    await eventually(() => (nodes[1]?.bus.stats().received ?? 0) > 0 && b.calls.count === 1)
    expect(await b.fn(1)).toEqual({ id: 1, version: 2 })
    expect(b.calls.count).toBe(1)
  })

  it('a replica ignores its own messages and keeps its tier', async () => {
    const nodes = await replicas(1)
    const source = { version: 1 }
    const [a] = everywhere(nodes, source)
    await a?.fn(3)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await a?.fn(3)).toEqual({ id: 3, version: 1 })
    expect(nodes[0]?.bus.stats()).toMatchObject({ received: 0, trusted: true })
  })

  it('while publishes fail, the tier is bypassed; once the bus is back it is cleared and used again', async () => {
    const nodes = await replicas(1)
    const node = nodes[0] as Node
    const source = { version: 1 }
    const [a] = everywhere(nodes, source)
    if (a === undefined) throw new Error('one replica')
    await a.fn(1)
    const fault = node.sidecar.fault({ route: 'publish', kind: 'status', status: 500 })
    await eventually(() => !node.bus.trusted())
    node.sidecar.clearRequests()
    await a.fn(1)
    // Read from the store, not from the tier.
    expect(node.sidecar.requests.filter((r) => r.route === 'get')).toHaveLength(1)
    fault.remove()
    await eventually(() => node.bus.trusted())
    expect(node.bus.stats().publishFailures).toBeGreaterThan(0)
    // The tier was cleared: one read of the store fills it again, then it serves.
    node.sidecar.clearRequests()
    await a.fn(1)
    await a.fn(1)
    expect(node.sidecar.requests.filter((r) => r.route === 'get')).toHaveLength(1)
  })

  it('while messages are not delivered, the tier is bypassed; after, it starts afresh', async () => {
    const nodes = await replicas(2)
    const source = { version: 1 }
    const [a, b] = everywhere(nodes, source)
    if (a === undefined || b === undefined) throw new Error('two replicas')
    await b.fn(5)
    nodes[1]?.sidecar.setDeliveries(false)
    await a.fn.invalidate(5) // B does not hear of it
    source.version = 2
    await eventually(() => nodes[1]?.bus.trusted() === false)
    // B's tier still holds version 1 but is not used: B reads the store (empty: it computes).
    expect(await b.fn(5)).toEqual({ id: 5, version: 2 })
    nodes[1]?.sidecar.setDeliveries(true)
    await eventually(() => nodes[1]?.bus.trusted() === true)
    expect(await b.fn(5)).toEqual({ id: 5, version: 2 })
  })

  it('a daprd that subscribes anew makes the replica distrust its tier until its heartbeat is back', async () => {
    const nodes = await replicas(1)
    const node = nodes[0] as Node
    expect(node.bus.trusted()).toBe(true)
    const before = node.bus.stats().cleared
    node.sidecar.resubscribe()
    // Distrusted until the next heartbeat comes back, which may be within a poll: counted when trust returns.
    await eventually(() => node.bus.stats().cleared > before && node.bus.trusted())
  })

  it('a daprd that closes its connections (stopped and back within one heartbeat) is distrusted at once, until its heartbeat is back', async () => {
    // Heartbeats far apart: none is sent while the sidecar is away, so none fails.
    const nodes = await replicas(1, { heartbeatMs: 2000, suspectAfterMs: 6000 })
    const node = nodes[0] as Node
    const source = { version: 1 }
    const [a] = everywhere(nodes, source)
    if (a === undefined) throw new Error('one replica')
    await a.fn(1)
    await node.sidecar.refuseConnections()
    await node.sidecar.acceptConnections()
    await eventually(() => !node.bus.trusted(), 500)
    // A read now goes to the store, not to the tier.
    node.sidecar.clearRequests()
    await a.fn(1)
    expect(node.sidecar.requests.filter((r) => r.route === 'get')).toHaveLength(1)
    await eventually(() => node.bus.trusted())
  }, 15_000) // two heartbeats 2 s apart: about 4 s

  it('a store’s connection reset (a store of the same pool size as the backplane’s) is not taken for daprd going away', async () => {
    const nodes = await replicas(1, { heartbeatMs: 2000, suspectAfterMs: 6000 })
    const node = nodes[0] as Node
    const store = daprStore({ daprUrl: node.sidecar.url, connections: 4 })
    closers.push(store.close)
    node.sidecar.fault({ route: 'get', kind: 'reset', times: 1 })
    expect((await store.get('k')())._tag).toBe('Left')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(node.bus.trusted()).toBe(true)
  })

  it('connections undici closes itself (as the keep-alive the server names asks) do not make a replica distrust its tier', async () => {
    // A stand-in daprd that names a keep-alive of 2 s: below undici's margin of 2 s, so undici closes
    // every connection itself after its answer. It hands each published message back to the backplane.
    let appPort = 0
    let forwarding = true
    const published: Array<string> = []
    const forwards = new Set<Promise<void>>()
    const failures: Array<unknown> = []
    const daprd = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
      request.on('end', () => {
        published.push(body)
        response.writeHead(204).end()
        if (!forwarding) return
        const forward = fetch(`http://127.0.0.1:${appPort}${BACKPLANE_ROUTE}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"data":${body}}` }).then(
          () => undefined,
          (error: unknown) => void failures.push(error),
        )
        forwards.add(forward)
        void forward.finally(() => forwards.delete(forward))
      })
    })
    daprd.keepAliveTimeout = 2500
    await new Promise<void>((resolve) => daprd.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>((resolve) => daprd.close(() => resolve())))
    const address = daprd.address()
    const bus = backplane({ daprUrl: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, heartbeatMs: 50, suspectAfterMs: 1000, logger: quiet })
    closers.push(bus.close)
    appPort = await bus.listen(0)
    await eventually(() => bus.trusted())
    const before = published.length
    const deadline = Date.now() + 1000
    while (Date.now() < deadline) {
      expect(bus.trusted()).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    // Heartbeats went out meanwhile, each on a connection undici closed after it, and each came back.
    expect(published.length - before).toBeGreaterThan(10)
    // Stop handing messages back before the backplane closes: a hand-back racing its close would be reset.
    forwarding = false
    await Promise.all([...forwards])
    expect(failures).toEqual([])
  })

  it('malformed messages and messages of a newer format are ignored with a warning; the subscriber keeps going', async () => {
    const warnings: Array<string> = []
    const nodes = await replicas(2, { logger: { warn: (message) => warnings.push(message) } })
    const [a, b] = everywhere(nodes, { version: 1 })
    if (a === undefined || b === undefined) throw new Error('two replicas')
    const publish = (body: string) =>
      fetch(`${nodes[0]?.sidecar.url}/v1.0/publish/pubsub/dapr-state-cache`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect((await publish('{"v":1,"origin":"x","seq":0,"kind":"delete","keys":[]}')).status).toBe(204)
    expect((await publish('not json')).status).toBe(204)
    expect((await publish('{"v":1,"origin":"x","seq":1,"kind":"drop-everything","keys":["a"]}')).status).toBe(204)
    await eventually(() => (nodes[1]?.bus.stats().ignored ?? 0) >= 3)
    expect(warnings.some((w) => w.includes('malformed'))).toBe(true)
    expect((await publish('{"v":2,"origin":"x","seq":1,"kind":"whatever"}')).status).toBe(204)
    await eventually(() => warnings.some((w) => w.includes('format 2')))
    // Still hearing: an invalidation on A reaches B.
    await b.fn(9)
    const before = nodes[1]?.bus.stats().received ?? 0
    await a.fn.invalidate(9)
    await eventually(() => (nodes[1]?.bus.stats().received ?? 0) > before)
  })

  it('a load under way on another replica when a key is invalidated neither stores its value nor takes later callers', async () => {
    const nodes = await replicas(2)
    const source = { version: 1 }
    const gate = deferred()
    const started = { count: 0 }
    const [a, b] = nodes.map((node) =>
      cacheable({ store: node.store, name: 'slow', ttlSeconds: 60, l1: true, backplane: node.bus, logger: quiet })(async (id: number) => {
        const version = source.version
        if (node === nodes[1]) {
          started.count++
          await gate.promise
        }
        return { id, version }
      }),
    )
    if (a === undefined || b === undefined) throw new Error('two replicas')
    const early = b(4) // B reads the source (version 1) and is held
    await eventually(() => started.count === 1)
    source.version = 2
    await a.invalidate(4)
    await eventually(() => (nodes[1]?.bus.stats().received ?? 0) >= 1)
    gate.resolve()
    // B's caller asked before the invalidation: it gets what B computed. Nothing of it is stored.
    expect(await early).toEqual({ id: 4, version: 1 })
    await eventually(() => b.pending() === 0)
    expect(nodes[0]?.sidecar.state('cache').entries()).toEqual([])
    expect(await b(4)).toEqual({ id: 4, version: 2 })
  })

  it('a write another replica’s invalidation overtook (landed after its delete, before its message) is deleted when the message comes', async () => {
    // A's messages are held back 1.5 s below (heartbeats too): the replicas wait for them longer.
    const nodes = await replicas(2, { suspectAfterMs: 5000, publishTimeoutMs: 5000 })
    const { first, a, b, source, gate, started, stored } = heldOnSecond(nodes)
    const early = b(4) // B reads the source (version 1) and is held
    await eventually(() => started.count === 1)
    source.version = 2
    // A's message is held back for a while after its delete.
    const held = first.sidecar.fault({ route: 'publish', kind: 'delay', delayMs: 1500 })
    const invalidating = a.invalidate(4)
    await eventually(() => first.sidecar.requests.some((r) => r.route === 'delete'))
    gate.resolve()
    expect(await early).toEqual({ id: 4, version: 1 })
    // B's old value landed after A's delete: the store holds it until A's message reaches B.
    expect(stored()).toBe(1)
    held.remove()
    await invalidating
    await eventually(() => stored() === 0)
    expect(await b(4)).toEqual({ id: 4, version: 2 })
  }, 15_000)

  it('an invalidation whose message failed is sent again: the write it overtook on another replica is deleted once the bus is back', async () => {
    const nodes = await replicas(2)
    const { first, a, b, source, gate, started, stored } = heldOnSecond(nodes)
    const early = b(4) // B reads the source (version 1) and is held
    await eventually(() => started.count === 1)
    source.version = 2
    const failing = first.sidecar.fault({ route: 'publish', kind: 'status', status: 500 })
    const failures = first.bus.stats().publishFailures
    await a.invalidate(4) // deleted; its message fails
    expect(first.bus.stats().publishFailures).toBeGreaterThan(failures)
    gate.resolve()
    expect(await early).toEqual({ id: 4, version: 1 })
    // B's old value landed after A's delete, and B heard nothing.
    expect(stored()).toBe(1)
    failing.remove()
    // After A's next heartbeat its invalidation goes out again, while A keeps publishing new values
    // of another function; B deletes the write it overtook.
    const busy = cacheable({ store: first.store, name: 'busy', ttlSeconds: 60, l1: true, backplane: first.bus, logger: quiet })(async (id: number) => id)
    let writing = true
    const writes = Promise.all(
      Array.from({ length: 8 }, async (_, writer) => {
        for (let id = writer; writing; id += 8) await busy(id)
      }),
    )
    try {
      const key = defaultKeyBuilder().buildKey('slow', [4])
      await eventually(() => first.sidecar.state('cache').get(key) === undefined)
    } finally {
      writing = false
      await writes
    }
    expect(await b(4)).toEqual({ id: 4, version: 2 })
  }, 15_000)

  it('changes share messages: 100 writes and 100 invalidations at once take a handful of publishes, not 200', async () => {
    const nodes = await replicas(2)
    const [a] = everywhere(nodes, { version: 1 })
    if (a === undefined) throw new Error('a replica')
    const ids = Array.from({ length: 100 }, (_, i) => i)
    nodes[0]?.sidecar.clearRequests()
    await Promise.all(ids.map((id) => a.fn(id)))
    await Promise.all(ids.map((id) => a.fn.invalidate(id)))
    const changes = () => (nodes[0]?.sidecar.requests ?? []).filter((r) => r.route === 'publish' && !r.body.includes('"beat"'))
    await eventually(() => changes().some((r) => r.body.includes('"set"')))
    expect(changes().length).toBeLessThanOrEqual(20)
    const keys = changes().flatMap((r) => (JSON.parse(r.body) as { keys: Array<string> }).keys)
    // Every key was told, as a write and as an invalidation.
    expect(new Set(keys).size).toBe(100)
    await eventually(() => (nodes[1]?.bus.stats().received ?? 0) >= changes().length)
  })

  it('refuses bad options at construction, naming them', () => {
    expect(() => backplane({ pubsubName: 'a/b', daprUrl: 'http://127.0.0.1:1' })).toThrow(/pubsubName/)
    expect(() => backplane({ topic: '', daprUrl: 'http://127.0.0.1:1' })).toThrow(/topic/)
    expect(() => backplane({ heartbeatMs: 0, daprUrl: 'http://127.0.0.1:1' })).toThrow(/heartbeatMs/)
    expect(() => backplane({ listen: 70000, daprUrl: 'http://127.0.0.1:1' })).toThrow(/listen/)
    expect(() => backplane({ listen: 0, daprUrl: 'http://127.0.0.1:1' })).toThrow(/listen\(0\)/)
    expect(() => backplane({ daprURL: 'x' } as never)).toThrow(/daprUrl/)
    expect(() => cacheable({ backplane: {} as never })).toThrow(/backplane/)
  })

  it('with an app API token, refuses what does not carry it (not daprd) and hears what does', async () => {
    const sidecar = await startTestSidecar()
    closers.push(sidecar.close)
    const bus = backplane({ daprUrl: sidecar.url, appApiToken: 'app-secret', heartbeatMs: 100, logger: quiet })
    closers.push(bus.close)
    const port = await bus.listen(0)
    const forged = await fetch(`http://127.0.0.1:${port}/dapr-state-cache/backplane`, { method: 'POST', body: '{"data":{"v":2}}' })
    expect(forged.status).toBe(401)
    const subscribe = await fetch(`http://127.0.0.1:${port}/dapr/subscribe`, { headers: { 'dapr-api-token': 'app-secret' } })
    expect(await subscribe.json()).toEqual([{ pubsubname: 'pubsub', topic: 'dapr-state-cache', route: '/dapr-state-cache/backplane' }])
    expect(bus.stats().ignored).toBe(0)
    await expect(bus.listen(0)).rejects.toThrow(/already listening/)
  })

  it('says once, naming the likely causes, when its own heartbeat never comes back (no delivery set up)', async () => {
    const sidecar = await startTestSidecar()
    closers.push(sidecar.close)
    const warnings: Array<string> = []
    const bus = backplane({ daprUrl: sidecar.url, pubsubName: 'nope', heartbeatMs: 50, suspectAfterMs: 100, logger: { warn: (message) => warnings.push(message) } })
    closers.push(bus.close)
    await eventually(() => warnings.length > 0)
    expect(warnings[0]).toMatch(/no heartbeat of this replica came back/)
    expect(warnings[0]).toMatch(/"nope"/)
    expect(warnings[0]).toMatch(/ERR_PUBSUB_NOT_FOUND/)
    expect(bus.stats()).toMatchObject({ trusted: false, cleared: 0 })
    expect(bus.stats().publishFailures).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(warnings).toHaveLength(1)
  })

  it('close() sends the changes already asked for', async () => {
    const sidecar = await startTestSidecar()
    closers.push(sidecar.close)
    const bus = backplane({ daprUrl: sidecar.url, heartbeatMs: 60_000, logger: quiet })
    sidecar.clearRequests()
    const told = bus.publish('set', 'cache:a:1')
    await bus.close()
    expect(await told).toBe(true)
    expect(sidecar.requests.filter((r) => r.route === 'publish' && r.body.includes('cache:a:1'))).toHaveLength(1)
  })
})

describe('the backplane in a pipeline and by default', () => {
  it('withBackplane(bus) in a pipeline, in any order with withL1: another replica’s invalidation reaches the tier', async () => {
    const nodes = await replicas(2)
    const source = { version: 1 }
    const made = nodes.map((node, index) =>
      pipe(
        (id: number) => TE.right({ id, version: source.version }),
        cache(node.store),
        withKey('pipe.user'),
        ...(index === 0 ? ([withL1(), withBackplane(node.bus)] as const) : ([withBackplane(node.bus), withL1()] as const)),
      ),
    )
    const [a, b] = made as [(typeof made)[0], (typeof made)[0]]
    expect(await a(1)()).toEqual(E.right({ id: 1, version: 1 }))
    await eventually(() => nodes[1]?.bus.stats().received === 1)
    expect(await b(1)()).toEqual(E.right({ id: 1, version: 1 }))
    source.version = 2
    expect(await b(1)()).toEqual(E.right({ id: 1, version: 1 })) // from B's tier
    expect(E.isRight(await a.invalidate(1)())).toBe(true)
    await eventually(() => nodes[1]?.bus.stats().received === 2)
    expect(await b(1)()).toEqual(E.right({ id: 1, version: 2 }))
  })

  it('backplane: true is the process’s default backplane, which listens on DAPR_STATE_CACHE_BACKPLANE_PORT', async () => {
    const sidecar = await startTestSidecar()
    closers.push(sidecar.close)
    const port = (await freePorts(1))[0] ?? 0
    const saved = { url: process.env['DAPR_HTTP_ENDPOINT'], port: process.env['DAPR_STATE_CACHE_BACKPLANE_PORT'] }
    process.env['DAPR_HTTP_ENDPOINT'] = sidecar.url
    process.env['DAPR_STATE_CACHE_BACKPLANE_PORT'] = String(port)
    try {
      const bus = defaultBackplane()
      closers.push(bus.close)
      expect(defaultBackplane()).toBe(bus)
      sidecar.connectApp(port)
      await eventually(() => bus.trusted())
      const fn = cacheable({ store: memoryStore(), name: 'default.bus', l1: true, backplane: true, logger: quiet })(async (id: number) => id)
      expect(await fn(1)).toBe(1)
      await eventually(() => sidecar.requests.some((r) => r.route === 'publish' && r.body.includes('default.bus')))
    } finally {
      for (const [name, value] of [['DAPR_HTTP_ENDPOINT', saved.url], ['DAPR_STATE_CACHE_BACKPLANE_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })
})

describe('sequences of other replicas', () => {
  const message = (seq: number, origin = 'r1') => ({ v: 1 as const, origin, seq, kind: 'set' as const, keys: ['k'] })

  it('takes messages delivered out of order on first contact as new, and a second copy as a duplicate', () => {
    const seen = sequences()
    expect(seen.arrived(message(11), 0)).toBe(true)
    expect(seen.arrived(message(10), 0)).toBe(true)
    expect(seen.arrived(message(10), 0)).toBe(false)
    expect(seen.arrived(message(12), 0)).toBe(true)
    expect(seen.arrived(message(11), 0)).toBe(false)
    expect(seen.lost(10_000, 1000)).toBe(false)
  })

  it('a gap older than the grace is a loss, once; what came after counts from there', () => {
    const seen = sequences()
    seen.arrived(message(1), 0)
    seen.arrived(message(3), 0)
    expect(seen.lost(500, 1000)).toBe(false)
    expect(seen.lost(2000, 1000)).toBe(true)
    expect(seen.lost(3000, 1000)).toBe(false)
    expect(seen.arrived(message(2), 3000)).toBe(false)
    expect(seen.arrived(message(4), 3000)).toBe(true)
  })

  it('a gap with very many messages after it does not throw and is taken as a loss at once', () => {
    const seen = sequences()
    seen.arrived(message(1), 0)
    for (let seq = 3; seq < 300_000; seq++) seen.arrived(message(seq), 0)
    expect(() => seen.lost(1, 1000)).not.toThrow()
    expect(seen.lost(1, 1000)).toBe(false) // reported once, already
    expect(seen.arrived(message(300_000), 1)).toBe(true)
  })

  it('refuses a replica id that is not a short token', () => {
    expect(E.isLeft(readMessage(JSON.stringify({ data: message(1, 'x'.repeat(65)) })))).toBe(true)
    expect(E.isRight(readMessage(JSON.stringify({ data: message(1, 'abc_-1') })))).toBe(true)
    expect(E.isRight(readMessage(JSON.stringify({ data: JSON.stringify(message(1)) })))).toBe(true)
  })
})

describe('the in-process tier, cleared', () => {
  it('keeps nothing a read that began before the clear brings', () => {
    const tier = l1()
    const before = tier.ticket()
    tier.clear()
    tier.fill('k', 1, 1, 60, before)
    expect(tier.get('k')).toBeUndefined()
    tier.fill('k', 2, 1, 60, tier.ticket())
    expect(tier.get('k')).toEqual({ value: 2 })
  })
})
