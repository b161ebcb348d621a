/**
 * Fan-out on real daprd with `pubsub.redis`: three daprds of one app id on one Redis, each
 * delivering to an app of its own. With `consumerID: "{uuid}"` (what startDaprd writes, and
 * docs/replicas.md shows) every replica gets every message; with one consumer group shared by the
 * three (the component's default, the app id; here written out), each message reaches one of them.
 */
import * as fs from 'node:fs'
import type { Server } from 'node:http'
import { createServer } from 'node:http'
import path from 'node:path'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'

interface App {
  readonly server: Server
  readonly port: number
  readonly got: Array<number>
}

const startApp = async (): Promise<App> => {
  const got: Array<number> = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      if (request.method === 'GET' && request.url === '/dapr/subscribe') {
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(JSON.stringify([{ pubsubname: 'pubsub', topic: 'fanout', route: '/events' }]))
        return
      }
      if (request.url === '/events') got.push((JSON.parse(body) as { data: { n: number } }).data.n)
      response.writeHead(request.url === '/events' ? 200 : 404, { 'content-type': 'application/json' })
      response.end(request.url === '/events' ? '{"status":"SUCCESS"}' : '{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0, got }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('pubsub.redis with three daprds of one app id', () => {
  const apps: Array<App> = []
  const daprds: Array<Daprd> = []
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const app = await startApp()
      apps.push(app)
      const first = daprds[0]
      daprds.push(await startDaprd({ flavour: 'redis', appId: 'one-app', appPort: app.port, ...(first?.redis === undefined ? {} : { redisHost: first.redis.host }) }))
    }
  }, 60_000)
  afterAll(async () => {
    for (const daprd of daprds.slice(1)) await daprd.close()
    await daprds[0]?.close()
    for (const app of apps) app.server.close()
  })

  /** Publishes `count` numbers through the first daprd; waits until `arrived` holds (10 s at most), then a quiet while for late duplicates. */
  const publish = async (from: number, count: number, arrived: () => boolean): Promise<void> => {
    for (const app of apps) app.got.length = 0
    await sleep(1000) // every daprd has subscribed
    for (let n = from; n < from + count; n++) {
      const answer = await fetch(`${daprds[0]?.url ?? ''}/v1.0/publish/pubsub/fanout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) })
      expect(answer.status).toBe(204)
    }
    for (const deadline = Date.now() + 10_000; !arrived() && Date.now() < deadline; ) await sleep(20)
    await sleep(500)
  }
  const numbers = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i)

  it('with consumerID "{uuid}", each replica gets every message', async () => {
    await publish(0, 6, () => apps.every((app) => app.got.length >= 6))
    for (const app of apps) expect([...app.got].sort((a, b) => a - b)).toEqual(numbers(0, 6))
  }, 30_000)

  it('with one consumer group for the three, each message reaches one replica only', async () => {
    for (const daprd of daprds) {
      const file = path.join(daprd.resourcesPath, 'pubsub.yaml')
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"{uuid}"', '"one-app"'))
      await daprd.restart()
    }
    await publish(100, 6, () => numbers(100, 6).every((n) => apps.some((app) => app.got.includes(n))))
    // A new group reads the stream from its start: the earlier messages may come again; these count.
    const these = apps.map((app) => app.got.filter((n) => n >= 100))
    expect(these.flat().sort((a, b) => a - b)).toEqual(numbers(100, 6))
    expect(these.every((got) => got.length < 6)).toBe(true)
  }, 60_000)
})
