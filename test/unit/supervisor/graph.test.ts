/**
 * graph.test.ts — dependency graph: cycles, start levels, stop order, closures, reference resolution.
 */
import { expect } from 'chai';
import { DepGraph, resolveRef, type GraphNode } from '../../../src/supervisor/graph.js';

/** graph from "a: b c" lines (a is started after b and c) */
function graph(spec: Record<string, string>): DepGraph {
  const nodes: GraphNode[] = Object.entries(spec).map(([id, after]) => ({ id, after: after.split(' ').filter(Boolean) }));
  return new DepGraph(nodes);
}

describe('DepGraph', () => {
  describe('levels', () => {
    it('puts independent chains side by side: 1→2, 3→4 gives [[1,3],[2,4]]', () => {
      const g = graph({ '4': '3', '2': '1', '3': '', '1': '' });
      expect(g.levels()).to.deep.equal({ levels: [['1', '3'], ['2', '4']], cyclic: [], blocked: [] });
    });

    it('places a node one level above its deepest dependency', () => {
      // d needs a (level 0) and c (level 2) → level 3
      const g = graph({ a: '', b: 'a', c: 'b', d: 'a c' });
      expect(g.levels().levels).to.deep.equal([['a'], ['b'], ['c'], ['d']]);
    });

    it('sorts ids inside a level', () => {
      const g = graph({ 'native/zeta': '', 'native/alpha': '', 'runit/cron': '' });
      expect(g.levels().levels).to.deep.equal([['native/alpha', 'native/zeta', 'runit/cron']]);
    });

    it('still schedules services that are not part of a cycle, and sets aside the cycle and its dependents', () => {
      const g = graph({ a: 'b', b: 'c', c: 'a', d: '', e: 'a', f: 'd', g: 'e' });
      expect(g.levels()).to.deep.equal({ levels: [['d'], ['f']], cyclic: ['a', 'b', 'c'], blocked: ['e', 'g'] });
    });

    it('handles an empty graph', () => {
      expect(new DepGraph([]).levels()).to.deep.equal({ levels: [], cyclic: [], blocked: [] });
    });

    it('copes with a chain of 5000 services (nothing recursive to overflow)', () => {
      const nodes = Array.from({ length: 5000 }, (_, i) => ({ id: `s${i}`, after: i === 0 ? [] : [`s${i - 1}`] }));
      const g = new DepGraph(nodes);
      expect(g.findCycles()).to.deep.equal([]);
      expect(g.levels().levels).to.have.length(5000);
    });
  });

  describe('findCycles', () => {
    it('reports a cycle of three in after-order, starting at the smallest id', () => {
      const g = graph({ b: 'c', c: 'a', a: 'b', d: 'a' });
      expect(g.findCycles()).to.deep.equal([['a', 'b', 'c']]);
    });

    it('reports a self-dependency', () => {
      expect(graph({ a: 'a', b: '' }).findCycles()).to.deep.equal([['a']]);
    });

    it('reports separate cycles separately', () => {
      const g = graph({ a: 'b', b: 'a', x: 'y', y: 'z', z: 'x', free: '' });
      expect(g.findCycles()).to.deep.equal([['a', 'b'], ['x', 'y', 'z']]);
    });

    it('walks every member of a tangled component along real edges', () => {
      // a⇄b and a→c→d→a share a: one component, no single simple cycle covers it
      const spec = { a: 'b c', b: 'a', c: 'd', d: 'a' };
      const [walk] = graph(spec).findCycles();
      expect(new Set(walk)).to.deep.equal(new Set(['a', 'b', 'c', 'd']));
      const closed = [...walk!, walk![0]!];
      for (let i = 0; i + 1 < closed.length; i++) {
        const from = closed[i]! as keyof typeof spec;
        expect(spec[from].split(' ')).to.include(closed[i + 1], `${from} → ${closed[i + 1]} is not an after edge`);
      }
    });

    it('finds nothing in an acyclic graph with shared dependencies', () => {
      expect(graph({ a: '', b: 'a', c: 'a', d: 'b c' }).findCycles()).to.deep.equal([]);
    });
  });

  describe('unknownRefs', () => {
    it('lists after entries that name no node and keeps them out of scheduling', () => {
      const g = graph({ a: 'ghost', b: 'a phantom' });
      expect(g.unknownRefs()).to.deep.equal([
        { from: 'a', ref: 'ghost' },
        { from: 'b', ref: 'phantom' },
      ]);
      expect(g.levels().levels).to.deep.equal([['a'], ['b']]);
    });
  });

  describe('reverseOrder', () => {
    it('stops dependents before their dependencies', () => {
      const g = graph({ '2': '1', '4': '3', '1': '', '3': '', '5': '2 4' });
      expect(g.reverseOrder()).to.deep.equal([['5'], ['2', '4'], ['1', '3']]);
    });

    it('gives every node of a cycle a place, after its dependents and before its dependencies', () => {
      const g = graph({ base: '', a: 'b base', b: 'a', top: 'a' });
      const order = g.reverseOrder();
      expect(order.flat().sort()).to.deep.equal(['a', 'b', 'base', 'top']);
      const at = (id: string): number => order.findIndex((l) => l.includes(id));
      expect(at('top')).to.be.lessThan(at('a'));
      expect(at('a')).to.be.lessThan(at('base'));
      expect(at('b')).to.be.lessThan(at('base'));
    });
  });

  describe('dependents and dependencies', () => {
    const g = graph({ net: '', dns: 'net', web: 'dns', cron: '', report: 'web cron' });

    it('dependents(id) is everything that needs id, directly or not', () => {
      expect(g.dependents('net')).to.deep.equal(['dns', 'report', 'web']);
      expect(g.dependents('report')).to.deep.equal([]);
    });

    it('dependencies(id) is everything id needs, directly or not', () => {
      expect(g.dependencies('report')).to.deep.equal(['cron', 'dns', 'net', 'web']);
      expect(g.dependencies('net')).to.deep.equal([]);
    });

    it('terminates on cycles and never lists the node itself', () => {
      const c = graph({ a: 'b', b: 'a' });
      expect(c.dependents('a')).to.deep.equal(['b']);
    });
  });
});

describe('resolveRef', () => {
  const known = new Set(['native/redis', 'native/runit', 'runit/cron']);

  it('reads a bare name as a service of the same instance', () => {
    expect(resolveRef('redis', 'native', known)).to.deep.equal({ id: 'native/redis' });
  });

  it('keeps instance/name as written', () => {
    expect(resolveRef('runit/cron', 'native', known)).to.deep.equal({ id: 'runit/cron' });
  });

  it('reads role:x as a role', () => {
    expect(resolveRef('role:logging', 'native', known)).to.deep.equal({ role: 'logging' });
  });

  it('reads a bare instance name as the instance', () => {
    expect(resolveRef('runit', 'other', known)).to.deep.equal({ instance: 'runit' });
  });

  it('prefers a local service over an instance of the same name', () => {
    expect(resolveRef('runit', 'native', known)).to.deep.equal({ id: 'native/runit' });
  });

  it('knows instances without services when they are passed explicitly', () => {
    expect(resolveRef('s6', 'native', known)).to.deep.equal({ id: 'native/s6' });
    expect(resolveRef('s6', 'native', known, ['native', 'runit', 's6'])).to.deep.equal({ instance: 's6' });
  });
});
