/**
 * Prepares REPL input (and eval-mode files) for `Script.run`.
 *
 * Input without top-level `await` runs as written: a plain script keeps real
 * `let`/`const`/`class` semantics and the completion value for free.
 * Input with top-level `await` is rewritten the way Node's REPL does it: wrap
 * it in an async arrow, turn top-level declarations into assignments to
 * bindings hoisted in front of the wrapper (so they persist), and return the
 * last expression statement's value as `{ value }`.
 */
import { parse, type Node } from "acorn";
import { base, recursive, type RecursiveVisitors } from "acorn-walk";

const WRAP_START = "(async () => { ";
// A newline first, so a trailing line comment in the input cannot swallow it.
const WRAP_END = "\n})()";
// `void 0` keeps a directive from becoming the completion value.
const STRICT_PREFIX = "'use strict'; void 0; ";

export interface PreparedSource {
  source: string;
  /** The completion value is the wrapper's promise of `{ value }` (or undefined). */
  wrapped: boolean;
  /** Negative column offset so line-1 positions in stacks point into the input. */
  columnOffset: number;
}

export function prepareReplSource(code: string, strict: boolean): PreparedSource {
  const rewritten = code.includes("await") ? rewriteTopLevelAwait(code) : null;
  const prefix = strict ? STRICT_PREFIX : "";
  if (rewritten === null) return { source: prefix + code, wrapped: false, columnOffset: -prefix.length | 0 };
  return {
    source: prefix + rewritten.source,
    wrapped: true,
    columnOffset: -(prefix.length + rewritten.prefixLength) | 0, // never -0: isolated-vm wants an int32
  };
}

// Acorn's nodes, loosely: the walker hands us whatever the grammar has.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyNode = Node & Record<string, any>;

interface State {
  body: AnyNode;
  ancestors: AnyNode[];
  hoisted: string[];
  edits: string[];
  containsAwait: boolean;
  containsReturn: boolean;
}

const prepend = (st: State, node: AnyNode, text: string) => {
  st.edits[node.start] = text + st.edits[node.start];
};
const append = (st: State, node: AnyNode, text: string) => {
  st.edits[node.end - 1] += text;
};
const replace = (st: State, from: number, to: number, text: string) => {
  for (let i = from; i < to; i++) st.edits[i] = "";
  st.edits[from] = from === to ? text + st.edits[from] : text;
};
const isTopLevel = (st: State) => st.ancestors[st.ancestors.length - 2] === st.body;

function boundNames(pattern: AnyNode | null, out: string[]): void {
  if (!pattern) return;
  switch (pattern.type) {
    case "Identifier":
      out.push(pattern.name);
      break;
    case "ObjectPattern":
      for (const p of pattern.properties) boundNames(p.type === "RestElement" ? p.argument : p.value, out);
      break;
    case "ArrayPattern":
      for (const e of pattern.elements) boundNames(e, out);
      break;
    case "AssignmentPattern":
      boundNames(pattern.left, out);
      break;
    case "RestElement":
      boundNames(pattern.argument, out);
      break;
  }
}

const noop = () => {};

const ownVisitors: RecursiveVisitors<State> = {
  ClassDeclaration(node: AnyNode, st, c) {
    if (isTopLevel(st)) {
      prepend(st, node, `${node.id.name}=`);
      append(st, node, ";");
      st.hoisted.push(`let ${node.id.name}; `);
    }
    base.ClassDeclaration!(node as never, st, c);
  },
  FunctionDeclaration(node: AnyNode, st) {
    prepend(st, node, `this.${node.id.name} = ${node.id.name}; `);
    st.hoisted.push(`var ${node.id.name}; `);
  },
  FunctionExpression: noop,
  ArrowFunctionExpression: noop,
  MethodDefinition: noop,
  AwaitExpression(node, st, c) {
    st.containsAwait = true;
    base.AwaitExpression!(node, st, c);
  },
  ForOfStatement(node: AnyNode, st, c) {
    if (node.await) st.containsAwait = true;
    base.ForOfStatement!(node as never, st, c);
  },
  ReturnStatement(node, st, c) {
    st.containsReturn = true;
    base.ReturnStatement!(node, st, c);
  },
  VariableDeclaration(node: AnyNode, st, c) {
    const kind: string = node.kind;
    const parent = st.ancestors[st.ancestors.length - 2];
    const inForInOf = (parent.type === "ForOfStatement" || parent.type === "ForInStatement") && parent.left === node;
    if (kind === "var" || isTopLevel(st)) {
      const decls: AnyNode[] = node.declarations;
      if (inForInOf) {
        replace(st, node.start, node.start + kind.length + 1, "");
      } else {
        replace(st, node.start, node.start + kind.length, decls.length === 1 ? "void" : "void (");
        for (const d of decls) {
          prepend(st, d, "(");
          // `var x;` must not reset x; a new `let x;` starts undefined.
          append(st, d, d.init || kind === "var" ? ")" : "=undefined)");
        }
        if (decls.length !== 1) append(st, decls[decls.length - 1], ")");
      }
      const names: string[] = [];
      for (const d of decls) boundNames(d.id, names);
      if (names.length > 0) st.hoisted.push(`${kind === "var" ? "var" : "let"} ${names.join(", ")}; `);
    }
    base.VariableDeclaration!(node as never, st, c);
  },
};

// Every node type goes through here so visitors can see their ancestors.
const visitors: RecursiveVisitors<State> = {};
for (const type of Object.keys(base) as Array<keyof typeof base>) {
  const visit = (ownVisitors[type] ?? base[type]) as (n: AnyNode, st: State, c: unknown) => void;
  visitors[type] = ((node: AnyNode, st: State, c: unknown) => {
    const isNew = node !== st.ancestors[st.ancestors.length - 1];
    if (isNew) st.ancestors.push(node);
    visit(node, st, c);
    if (isNew) st.ancestors.pop();
  }) as never;
}

/**
 * The rewritten source (and how much was put in front of the input's first
 * line), or null when the input has no top-level await or cannot be parsed.
 */
export function rewriteTopLevelAwait(code: string): { source: string; prefixLength: number } | null {
  const wrapped = WRAP_START + code + WRAP_END;
  let root: AnyNode;
  try {
    root = parse(wrapped, { ecmaVersion: "latest" }) as AnyNode;
  } catch {
    return null; // V8 reports the syntax error on the original input
  }
  const body: AnyNode = root.body[0].expression.callee.body;
  const st: State = {
    body,
    ancestors: [],
    hoisted: [],
    edits: wrapped.split(""),
    containsAwait: false,
    containsReturn: false,
  };
  recursive(body, st, visitors);
  if (!st.containsAwait || st.containsReturn) return null;

  for (let i = body.body.length - 1; i >= 0; i--) {
    const statement: AnyNode = body.body[i];
    if (statement.type === "EmptyStatement") continue;
    if (statement.type === "ExpressionStatement") {
      // Closed at the statement's end (before its `;`), not the expression's:
      // the expression node of `({ a: 1 })` leaves out its parentheses.
      const end = wrapped[statement.end - 1] === ";" ? statement.end - 1 : statement.end;
      prepend(st, statement, "return { value: (");
      st.edits[end - 1] += ") }";
    }
    break;
  }
  const hoisted = st.hoisted.join("");
  return { source: hoisted + st.edits.join(""), prefixLength: hoisted.length + WRAP_START.length };
}
