/**
 * The private `redis-server` `startDaprd` starts for the `'redis'` flavour when no `redisHost` is
 * given: no persistence, loopback only, ready once it answers PING. For `'redis-cluster'`, three of
 * them with `--cluster-enabled`, joined by `redis-cli --cluster create` (three primaries, no
 * replicas), ready once the cluster says `cluster_state:ok`.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { execFile } from 'node:child_process'
import { Socket } from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { DaprdStartError } from './model.js'
import { sleep, started, stop } from './processes.js'

/** Resolves when `redis-server` answers PING on the port. */
const redisAnswers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = new Socket()
    const done = (answer: boolean): void => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
  })

export const startRedisProcess = (command: string, port: number, timeoutMs: number, extra: ReadonlyArray<string> = []): Promise<ChildProcess> => {
  // No persistence, loopback only, nothing written to disk (but a cluster node's own config file).
  const child = spawn(command, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', os.tmpdir(), ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return started(child, {
    code: 'E_REDIS_START',
    name: command,
    hint: "install Debian's redis-server, or pass redisHost",
    ready: () => redisAnswers(port),
    awaited: `answer PING on port ${port}`,
    timeoutMs,
    pollMs: 50,
    graceMs: 1000,
  })
}

const redisCli = (args: ReadonlyArray<string>, timeoutMs: number): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile('redis-cli', [...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error !== null) reject(new DaprdStartError('E_REDIS_START', `startDaprd: redis-cli ${args.join(' ')}: ${error.message} ${stderr}`.trim()))
      else resolve(stdout)
    })
  })

/** The cluster node on `port`: its config file in `folder` (kept across a restart, so it rejoins). */
export const clusterNode = (command: string, port: number, folder: string, timeoutMs: number): Promise<ChildProcess> =>
  startRedisProcess(command, port, timeoutMs, ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(folder, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'])

/** Waits until every slot is served (`cluster_state:ok`), asking the first node. */
export const clusterReady = async (ports: ReadonlyArray<number>, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const info = await redisCli(['-p', String(ports[0]), 'cluster', 'info'], 2_000).catch(() => '')
    if (info.includes('cluster_state:ok')) return
    if (Date.now() > deadline) throw new DaprdStartError('E_REDIS_START', `startDaprd: the Redis cluster on ports ${ports.join(', ')} was not ok within ${timeoutMs} ms`)
    await sleep(100)
  }
}

/** Three new nodes joined as one cluster of three primaries. */
export const startRedisCluster = async (command: string, ports: ReadonlyArray<number>, folder: string, timeoutMs: number): Promise<Array<ChildProcess>> => {
  const nodes: Array<ChildProcess> = []
  try {
    for (const port of ports) nodes.push(await clusterNode(command, port, folder, timeoutMs))
    await redisCli(['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], timeoutMs)
    await clusterReady(ports, timeoutMs)
    return nodes
  } catch (error) {
    await Promise.all(nodes.map((node) => stop(node, 1000)))
    throw error
  }
}
