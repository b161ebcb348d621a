/**
 * Every TypeScript snippet in README.md and docs/ is compiled, and those fenced as `ts run` are run,
 * so no example can rot, both as a user's ES module project would: compiled as ES modules with
 * Node's own resolution (`NodeNext`), and run by Node itself as `.mjs` files, so an import Node's
 * ESM loader refuses (`fp-ts/function`, a directory) fails here too. Snippets import the package by
 * name (`dapr-state-cache`, `dapr-state-cache/testing`): the compile points those names at the
 * sources, the run at the ES module build the global setup made (`.test-build/esm`).
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'

interface Snippet {
  readonly doc: string
  readonly line: number
  readonly code: string
  readonly run: boolean
}

const root = path.join(__dirname, '..')
const docs = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)]

const snippets: ReadonlyArray<Snippet> = docs.flatMap((doc) => {
  const lines = readFileSync(path.join(root, doc), 'utf8').split('\n')
  const found: Array<Snippet> = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```ts( run)?\s*$/.exec(lines[i] ?? '')
    if (fence === null) continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end] !== '```') end++
    found.push({ doc, line: start + 1, code: lines.slice(start, end).join('\n'), run: fence[1] !== undefined })
    i = end
  }
  return found
})

const label = (snippet: Snippet) => `${snippet.doc}:${snippet.line}`

const sources: Record<string, string> = {
  'dapr-state-cache': path.join(root, 'src', 'index.ts'),
  'dapr-state-cache/testing': path.join(root, 'src', 'testing', 'index.ts'),
}

describe('documentation snippets', () => {
  it('are there to check', () => {
    expect(snippets.length).toBeGreaterThan(10)
    expect(snippets.filter((snippet) => snippet.run).length).toBeGreaterThan(5)
  })

  it('all compile against the package, under the project strict settings', () => {
    // Inside node_modules: ignored by git, and packages resolve from there as from the project.
    const cache = path.join(root, 'node_modules', '.cache')
    mkdirSync(cache, { recursive: true })
    const dir = mkdtempSync(path.join(cache, 'doc-snippets-'))
    // A user's ES module project: its `.ts` files are ES modules because its package.json says so.
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n')
    try {
      const files = snippets.map((snippet, index) => {
        const file = path.join(dir, `snippet${index}.ts`)
        writeFileSync(file, `${snippet.code}\nexport {}\n`)
        return file
      })
      const base = ts.readConfigFile(path.join(root, 'tsconfig.base.json'), (file) => ts.sys.readFile(file)).config as {
        compilerOptions: object
      }
      const { options } = ts.convertCompilerOptionsFromJson(
        {
          ...base.compilerOptions,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          noEmit: true,
          noUnusedLocals: false,
          noUnusedParameters: false,
          baseUrl: root,
          typeRoots: [path.join(root, 'node_modules', '@types')],
          paths: Object.fromEntries(Object.entries(sources).map(([name, file]) => [name, [file]])),
        },
        root,
      )
      const program = ts.createProgram(files, options)
      const diagnostics = ts.getPreEmitDiagnostics(program).filter((diagnostic) => diagnostic.file === undefined || files.includes(diagnostic.file.fileName))
      const messages = diagnostics.map((diagnostic) => {
        const index = diagnostic.file === undefined ? -1 : files.indexOf(diagnostic.file.fileName)
        const snippet = snippets[index]
        const where =
          snippet === undefined || diagnostic.file === undefined || diagnostic.start === undefined
            ? '(global)'
            : `${snippet.doc}:${snippet.line + diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line}`
        return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`
      })
      expect(messages).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  const runnable = snippets.filter((snippet) => snippet.run)
  const built = path.join(root, '.test-build', 'esm')
  const packageUrls: Record<string, string> = {
    'dapr-state-cache': pathToFileURL(path.join(built, 'index.js')).href,
    'dapr-state-cache/testing': pathToFileURL(path.join(built, 'testing', 'index.js')).href,
  }
  it.each(runnable.map((snippet) => [label(snippet), snippet] as const))('%s runs as an ES module in Node', async (_label, snippet) => {
    const { outputText } = ts.transpileModule(snippet.code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    })
    // The package's own names go to its ES module build; every other import stays as the user wrote it.
    const code = outputText.replace(/(from\s+|import\s*\(\s*)(['"])(dapr-state-cache(?:\/testing)?)\2/g, (whole, before: string, quote: string, name: string) =>
      packageUrls[name] === undefined ? whole : `${before}${quote}${packageUrls[name]}${quote}`,
    )
    // Inside node_modules (ignored by git), so that bare imports resolve from the project's packages.
    const cache = path.join(root, 'node_modules', '.cache')
    mkdirSync(cache, { recursive: true })
    const dir = mkdtempSync(path.join(cache, 'doc-run-'))
    const file = path.join(dir, 'snippet.mjs')
    writeFileSync(file, `${code}\nexport {}\n`)
    try {
      await promisify(execFile)(process.execPath, [file], { cwd: dir, timeout: 60_000 })
    } catch (failure) {
      const { stderr } = failure as { stderr?: string }
      throw new Error(`${label(snippet)} failed in Node as an ES module:\n${stderr ?? String(failure)}`, { cause: failure })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})

describe('links to the API reference', () => {
  it('every api/... link in the guides is a page TypeDoc generates', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'api-reference-'))
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out, '--logLevel', 'Error'], { cwd: root, stdio: 'ignore' })
      const links = docs.flatMap((doc) =>
        Array.from(readFileSync(path.join(root, doc), 'utf8').matchAll(/\]\((?:docs\/)?api\/([^)#]+)\)/g), (match) => ({ doc, page: match[1] as string })),
      )
      expect(links.length).toBeGreaterThan(20)
      expect(links.filter((link) => !existsSync(path.join(out, link.page)))).toEqual([])
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 60_000)
})
