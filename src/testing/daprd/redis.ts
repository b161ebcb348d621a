/**
 * The private `redis-server` `startDaprd` starts for the `'redis'` flavour when no `redisHost` is
 * given: no persistence, loopback only, ready once it answers PING.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { Socket } from 'node:net'
import * as os from 'node:os'
import { DaprdStartError } from './model.js'
import { sleep, stop, tail, track } from './processes.js'

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

export const startRedisProcess = async (command: string, port: number, timeoutMs: number): Promise<ChildProcess> => {
  // No persistence, loopback only, nothing written to disk.
  const child = spawn(command, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', os.tmpdir()], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(child)
  const printed = tail(child)
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const failed = await Promise.race([spawnError, sleep(50).then(() => undefined)])
    if (failed !== undefined) throw new DaprdStartError('E_REDIS_START', `startDaprd: could not run ${command}: ${failed.message} (install Debian's redis-server, or pass redisHost)`)
    if (child.exitCode !== null) throw new DaprdStartError('E_REDIS_START', `startDaprd: ${command} exited with code ${child.exitCode} during start:\n${printed()}`)
    if (await redisAnswers(port)) return child
  }
  await stop(child, 1000)
  throw new DaprdStartError('E_REDIS_START', `startDaprd: ${command} did not answer PING on port ${port} within ${timeoutMs} ms:\n${printed()}`)
}
