// The import graph of lib/ has no circle. A circle makes the value a module sees depend on
// which file was loaded first (a half-initialised module in CommonJS), so it is refused here
// for every kind of import that runs: static, re-exports and import(). Type-only imports
// vanish at compile time and are left out.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as ts from 'typescript';

import { packageRoot } from '../../lib/native';

/** Relative module specifiers a file imports at run time. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.importClause?.namedBindings;
      const onlyTypes =
        !node.importClause?.name && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length > 0 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out.filter((s) => s.startsWith('.'));
}

function resolve(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const f of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(f)) return f;
  throw new Error(`${from}: cannot resolve '${spec}'`);
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f));
}

/** The graph's circles, one per strongly connected component of more than one file (or a self-import). */
function findCircles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return circles;
}

describe('lib/ import graph', () => {
  it('has no circular imports', () => {
    const root = path.join(packageRoot(), 'lib');
    const graph = new Map<string, string[]>();
    for (const f of sourceFiles(root))
      graph.set(
        f,
        runtimeImports(f).map((s) => resolve(f, s)),
      );
    assert.ok(graph.size > 20, `found only ${graph.size} source files under ${root}`);
    const circles = findCircles(graph).map((c) => c.map((f) => path.relative(root, f)).join(' <-> '));
    assert.deepEqual(circles, [], `import circles in lib/:\n  ${circles.join('\n  ')}`);
  });

  it('the search finds a circle through a dynamic import and ignores a chain', () => {
    const g = new Map([
      ['main', ['train']],
      ['train', ['args', 'main']],
      ['args', []],
      ['a', ['b']],
      ['b', ['c']],
      ['c', []],
    ]);
    assert.deepEqual(findCircles(g), [['main', 'train']]);
    assert.deepEqual(findCircles(new Map([['x', ['x']]])), [['x']]);
  });
});
