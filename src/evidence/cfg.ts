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
import { derivedOf, zeroedInt32, zeroedUint8, type LoweredFunction } from './ir.js';

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
 * Scratch of `build`, grown as needed and reused for every function: the leaders, the block
 * of each instruction and each block's start, the edges (from, to) in the order they are
 * found, and the predecessor rows before the duplicates are squeezed out.
 */
let leader = new Uint8Array(1024);
let scratchOf = new Int32Array(1024);
let scratchStart = new Int32Array(1024);
let edgeFrom = new Int32Array(1024);
let edgeTo = new Int32Array(1024);
let rowStart = new Int32Array(1024);
let rowFill = new Int32Array(1024);
let rowAll = new Int32Array(1024);
let succFill = new Int32Array(1024);
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
function edgeToIndex(from: number, toIndex: number): void {
  if (toIndex < 0) return;
  const to = scratchOf[toIndex];
  if (scratchStart[to] !== toIndex) return; // a target inside an instruction: not an edge
  addEdge(from, to);
}

function build(fn: LoweredFunction): ControlFlowGraph {
  const insns = fn.insns;
  const n = insns.length;
  if (leader.length < n + 1) {
    const size = Math.max(n + 1, leader.length * 2);
    leader = new Uint8Array(size);
    scratchOf = new Int32Array(size);
    scratchStart = new Int32Array(size);
  } else leader.fill(0, 0, n + 1);

  // Leaders: the entry, branch targets, and whatever follows a branch or terminator.
  if (n > 0) leader[0] = 1;
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
  let blocks = 0;
  for (let i = 0; i < n; i++) {
    if (leader[i]) scratchStart[blocks++] = i;
    scratchOf[i] = blocks - 1;
  }
  scratchStart[blocks] = n; // one past the last block's end

  edges = 0;
  for (let b = 0; b < blocks; b++) {
    const end = scratchStart[b + 1];
    const last = insns[end - 1];
    if (last.noFall !== true && end < n) edgeToIndex(b, end);
    if (last.jump !== undefined) edgeToIndex(b, indexOf(insns, last.jump));
    const targets = last.targets;
    if (targets !== undefined) for (let k = 0; k < targets.length; k++) edgeToIndex(b, indexOf(insns, targets[k]));
  }
  // Predecessor rows: the edges by target, in the order found, each source once.
  if (rowStart.length < blocks + 1) {
    rowStart = new Int32Array(Math.max(blocks + 1, rowStart.length * 2));
    rowFill = new Int32Array(rowStart.length);
    succFill = new Int32Array(rowStart.length);
  }
  if (rowAll.length < edges) rowAll = new Int32Array(Math.max(edges, rowAll.length * 2));
  rowStart.fill(0, 0, blocks + 1);
  rowFill.fill(0, 0, blocks);
  for (let e = 0; e < edges; e++) rowStart[edgeTo[e] + 1]++;
  for (let b = 0; b < blocks; b++) rowStart[b + 1] += rowStart[b];
  let preds = 0;
  for (let e = 0; e < edges; e++) {
    const to = edgeTo[e];
    const from = edgeFrom[e];
    const row = rowStart[to];
    let dup = false;
    for (let k = row; k < row + rowFill[to]; k++) {
      if (rowAll[k] === from) {
        dup = true;
        break;
      }
    }
    if (!dup) {
      rowAll[row + rowFill[to]++] = from;
      preds++;
    }
  }
  let orphans = 0;
  for (let b = 1; b < blocks; b++) if (rowFill[b] === 0) orphans++;
  const succs = preds + orphans;

  // The graph's arrays, cut from shared zeroed slabs (`ir.ts`).
  const blockStart = zeroedInt32(blocks);
  const blockEnd = zeroedInt32(blocks);
  const blockOf = zeroedInt32(n);
  const predStart = zeroedInt32(blocks + 1);
  const pred = zeroedInt32(preds);
  const succStart = zeroedInt32(blocks + 1);
  const succ = zeroedInt32(succs);
  const orphan = zeroedUint8(blocks);
  for (let b = 0; b < blocks; b++) {
    blockStart[b] = scratchStart[b];
    blockEnd[b] = scratchStart[b + 1];
  }
  for (let i = 0; i < n; i++) blockOf[i] = scratchOf[i];
  for (let b = 0; b < blocks; b++) {
    predStart[b + 1] = predStart[b] + rowFill[b];
    for (let k = 0; k < rowFill[b]; k++) pred[predStart[b] + k] = rowAll[rowStart[b] + k];
  }
  for (let b = 1; b < blocks; b++) if (rowFill[b] === 0) orphan[b] = 1;

  // Successor rows: for each block in order, each of its predecessors (an orphan: its layout predecessor) gains it.
  for (let b = 0; b < blocks; b++) {
    if (orphan[b]) succStart[b]++; // its layout predecessor b - 1 gains it (counted at index (b - 1) + 1)
    else for (let k = predStart[b]; k < predStart[b + 1]; k++) succStart[pred[k] + 1]++;
  }
  for (let b = 0; b < blocks; b++) succStart[b + 1] += succStart[b];
  succFill.fill(0, 0, blocks);
  for (let b = 0; b < blocks; b++) {
    if (orphan[b]) succ[succStart[b - 1] + succFill[b - 1]++] = b;
    else for (let k = predStart[b]; k < predStart[b + 1]; k++) {
      const p = pred[k];
      succ[succStart[p] + succFill[p]++] = b;
    }
  }
  return { blockStart, blockEnd, blockOf, predStart, pred, succStart, succ, orphan };
}

/** The predecessors of block `b`, as an array (for tests and one-off readers; the analyses read the rows in place). */
export function predsOf(cfg: ControlFlowGraph, b: number): number[] {
  return Array.from(cfg.pred.subarray(cfg.predStart[b], cfg.predStart[b + 1]));
}
