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
import type { LoweredFunction } from './ir.js';

export interface ControlFlowGraph {
  /** Index of the first instruction of each block, ascending. */
  readonly blockStart: Int32Array;
  /** One past the last instruction of each block. */
  readonly blockEnd: Int32Array;
  /** Block of each instruction. */
  readonly blockOf: Int32Array;
  /** Predecessor blocks of each block (layout fall-through and branch sources). */
  readonly preds: readonly (readonly number[])[];
  /** The block has no modelled predecessor and is not the entry (see above). */
  readonly orphan: Uint8Array;
}

export function controlFlowGraph(fn: LoweredFunction): ControlFlowGraph {
  const d = (fn.derived ??= {});
  return (d.cfg ??= build(fn)) as ControlFlowGraph;
}

function build(fn: LoweredFunction): ControlFlowGraph {
  const insns = fn.insns;
  const n = insns.length;
  // Instructions are in address order: a branch target's index by binary search.
  const indexOf = {
    get(rva: number): number | undefined {
      let lo = 0;
      let hi = n - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const r = insns[mid].rva;
        if (r === rva) return mid;
        if (r < rva) lo = mid + 1;
        else hi = mid - 1;
      }
      return undefined;
    },
  };

  // Leaders: the entry, branch targets, and whatever follows a branch or terminator.
  const leader = new Uint8Array(n + 1);
  if (n > 0) leader[0] = 1;
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (x.jump !== undefined) {
      const t = indexOf.get(x.jump);
      if (t !== undefined) leader[t] = 1;
    }
    if (x.targets) {
      for (const rva of x.targets) {
        const t = indexOf.get(rva);
        if (t !== undefined) leader[t] = 1;
      }
    }
    if (x.jump !== undefined || x.targets || x.noFall || x.tail) leader[i + 1] = 1;
  }

  const starts: number[] = [];
  for (let i = 0; i < n; i++) if (leader[i]) starts.push(i);
  const blocks = starts.length;
  const blockStart = Int32Array.from(starts);
  const blockEnd = new Int32Array(blocks);
  const blockOf = new Int32Array(n);
  for (let b = 0; b < blocks; b++) {
    const end = b + 1 < blocks ? starts[b + 1] : n;
    blockEnd[b] = end;
    blockOf.fill(b, starts[b], end);
  }

  const preds: number[][] = Array.from({ length: blocks }, () => []);
  const addEdge = (from: number, toIndex: number | undefined) => {
    if (toIndex === undefined) return;
    const to = blockOf[toIndex];
    if (blockStart[to] !== toIndex) return; // a target inside an instruction: not an edge
    if (!preds[to].includes(from)) preds[to].push(from);
  };
  for (let b = 0; b < blocks; b++) {
    const last = insns[blockEnd[b] - 1];
    if (!last.noFall && blockEnd[b] < n) addEdge(b, blockEnd[b]);
    if (last.jump !== undefined) addEdge(b, indexOf.get(last.jump));
    if (last.targets) for (const t of last.targets) addEdge(b, indexOf.get(t));
  }
  const orphan = new Uint8Array(blocks);
  for (let b = 1; b < blocks; b++) if (preds[b].length === 0) orphan[b] = 1;
  return { blockStart, blockEnd, blockOf, preds, orphan };
}
