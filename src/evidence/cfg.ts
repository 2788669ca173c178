/**
 * The control-flow graph of one lowered function: basic blocks and their predecessors.
 *
 * Blocks are cut at the function start, at every branch target inside the function, and
 * after every branch, call-free terminator (`ret`, `jmp`, tail call) and conditional
 * branch. An edge goes from a block to the block its last instruction falls into (unless
 * that instruction never falls through) and to every in-function target of a direct
 * branch or of a jump table (`Insn.jump`, `Insn.targets`).
 *
 * A block that no edge reaches and that is not the entry is code the decoder met but no
 * modelled branch leads to (a case of a jump table we could not read, a block entered
 * through a computed jump). The value analysis treats its layout predecessor as its
 * predecessor there, which is what the linear walk of the first engine did everywhere.
 *
 * Arrays of numbers throughout: the graph is built once per function and read many times.
 */
import { derivedOf, type LoweredFunction } from './ir.js';

export interface ControlFlowGraph {
  /** Index of the first instruction of each block, ascending. */
  readonly blockStart: Int32Array;
  /** One past the last instruction of each block. */
  readonly blockEnd: Int32Array;
  /** Block of each instruction. */
  readonly blockOf: Int32Array;
  /**
   * Predecessor blocks of each block (layout fall-through and branch sources), in compressed
   * rows: those of block `b` are `pred[predStart[b]]` .. `pred[predStart[b + 1] - 1]`, in the
   * order their edges were found (the order the value analysis joins them in).
   */
  readonly predStart: Int32Array;
  readonly pred: Int32Array;
  /**
   * Successor blocks, the same way (`succStart`, `succ`): the inverse of the predecessors, an
   * orphan's layout edge from its predecessor included, each row ascending.
   */
  readonly succStart: Int32Array;
  readonly succ: Int32Array;
  /** The block has no modelled predecessor and is not the entry (see above). */
  readonly orphan: Uint8Array;
}

export function controlFlowGraph(fn: LoweredFunction): ControlFlowGraph {
  const d = derivedOf(fn);
  return (d.cfg ??= build(fn)) as ControlFlowGraph;
}

/**
 * Scratch of `build`, grown as needed and reused for every function: the leaders, and the
 * edges (from, to) in the order they are found. Only the graph's own arrays are allocated per function.
 */
let leader = new Uint8Array(1024);
let edgeFrom = new Int32Array(1024);
let edgeTo = new Int32Array(1024);
let edges = 0;

/** Index of the instruction at `rva` (instructions are in address order), or -1. */
function indexOf(insns: LoweredFunction['insns'], rva: number): number {
  let lo = 0;
  let hi = insns.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = insns[mid].rva;
    if (r === rva) return mid;
    if (r < rva) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function addEdge(from: number, to: number): void {
  if (edges === edgeFrom.length) {
    const f = new Int32Array(edges * 2);
    f.set(edgeFrom);
    edgeFrom = f;
    const t = new Int32Array(edges * 2);
    t.set(edgeTo);
    edgeTo = t;
  }
  edgeFrom[edges] = from;
  edgeTo[edges] = to;
  edges++;
}

/** An edge from block `from` to the instruction at index `toIndex` (-1: none), when that instruction starts a block. */
function edgeToIndex(from: number, toIndex: number, blockOf: Int32Array, blockStart: Int32Array): void {
  if (toIndex < 0) return;
  const to = blockOf[toIndex];
  if (blockStart[to] !== toIndex) return; // a target inside an instruction: not an edge
  addEdge(from, to);
}

function build(fn: LoweredFunction): ControlFlowGraph {
  const insns = fn.insns;
  const n = insns.length;
  if (leader.length < n + 1) leader = new Uint8Array(Math.max(n + 1, leader.length * 2));
  else leader.fill(0, 0, n + 1);

  // Leaders: the entry, branch targets, and whatever follows a branch or terminator.
  if (n > 0) leader[0] = 1;
  let blocks = 0;
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (x.jump !== undefined) {
      const t = indexOf(insns, x.jump);
      if (t >= 0) leader[t] = 1;
    }
    const targets = x.targets;
    if (targets !== undefined) {
      for (let k = 0; k < targets.length; k++) {
        const t = indexOf(insns, targets[k]);
        if (t >= 0) leader[t] = 1;
      }
    }
    if (x.jump !== undefined || targets !== undefined || x.noFall === true || x.tail === true) leader[i + 1] = 1;
  }
  for (let i = 0; i < n; i++) blocks += leader[i];

  const blockStart = new Int32Array(blocks);
  const blockEnd = new Int32Array(blocks);
  const blockOf = new Int32Array(n);
  for (let i = 0, b = 0; i < n; i++) if (leader[i]) blockStart[b++] = i;
  for (let b = 0; b < blocks; b++) {
    const end = b + 1 < blocks ? blockStart[b + 1] : n;
    blockEnd[b] = end;
    blockOf.fill(b, blockStart[b], end);
  }

  edges = 0;
  for (let b = 0; b < blocks; b++) {
    const last = insns[blockEnd[b] - 1];
    if (last.noFall !== true && blockEnd[b] < n) edgeToIndex(b, blockEnd[b], blockOf, blockStart);
    if (last.jump !== undefined) edgeToIndex(b, indexOf(insns, last.jump), blockOf, blockStart);
    const targets = last.targets;
    if (targets !== undefined) for (let k = 0; k < targets.length; k++) edgeToIndex(b, indexOf(insns, targets[k]), blockOf, blockStart);
  }
  // Predecessor rows: the edges by target, in the order found, each source once.
  const predStart = new Int32Array(blocks + 1);
  for (let e = 0; e < edges; e++) predStart[edgeTo[e] + 1]++;
  for (let b = 0; b < blocks; b++) predStart[b + 1] += predStart[b];
  const fill = new Int32Array(blocks);
  const predAll = new Int32Array(edges);
  for (let e = 0; e < edges; e++) {
    const to = edgeTo[e];
    const from = edgeFrom[e];
    const row = predStart[to];
    let dup = false;
    for (let k = row; k < row + fill[to]; k++) {
      if (predAll[k] === from) {
        dup = true;
        break;
      }
    }
    if (!dup) predAll[row + fill[to]++] = from;
  }
  // Close the gaps the duplicates left.
  const predRow = new Int32Array(blocks + 1);
  for (let b = 0; b < blocks; b++) predRow[b + 1] = predRow[b] + fill[b];
  const pred = new Int32Array(predRow[blocks]);
  for (let b = 0; b < blocks; b++) for (let k = 0; k < fill[b]; k++) pred[predRow[b] + k] = predAll[predStart[b] + k];

  const orphan = new Uint8Array(blocks);
  for (let b = 1; b < blocks; b++) if (fill[b] === 0) orphan[b] = 1;

  // Successor rows: for each block in order, each of its predecessors (an orphan: its layout predecessor) gains it.
  const succStart = new Int32Array(blocks + 1);
  for (let b = 0; b < blocks; b++) {
    if (orphan[b]) succStart[b]++; // its layout predecessor b - 1 gains it (counted at index (b - 1) + 1)
    else for (let k = predRow[b]; k < predRow[b + 1]; k++) succStart[pred[k] + 1]++;
  }
  for (let b = 0; b < blocks; b++) succStart[b + 1] += succStart[b];
  const succ = new Int32Array(succStart[blocks]);
  fill.fill(0);
  for (let b = 0; b < blocks; b++) {
    if (orphan[b]) succ[succStart[b - 1] + fill[b - 1]++] = b;
    else for (let k = predRow[b]; k < predRow[b + 1]; k++) {
      const p = pred[k];
      succ[succStart[p] + fill[p]++] = b;
    }
  }
  return { blockStart, blockEnd, blockOf, predStart: predRow, pred, succStart, succ, orphan };
}

/** The predecessors of block `b`, as an array (for tests and one-off readers; the analyses read the rows in place). */
export function predsOf(cfg: ControlFlowGraph, b: number): number[] {
  return Array.from(cfg.pred.subarray(cfg.predStart[b], cfg.predStart[b + 1]));
}
