/**
 * unit-table.ts — the systemd instance's units as metainit services, kept current by systemd's
 * own signals.
 *
 * One record per unit: systemd's view of it (states.ts UnitView) and the last ServiceStatus sent.
 * The view changes only through what systemd tells: `listUnits()` after every (re)connect of the
 * bus, `unitNew`/`unitRemoved`, and `propertiesChanged` of the Unit and Service interfaces.
 * `refresh` maps a record through the adapter's `observe` (states.ts' ONE table, plus the
 * instance's own phase: booting, restarting, stopped) and emits a state event only when
 * something a user sees changed. Nothing here polls.
 *
 * Two rules learned from systemd: a freshly loaded unit is inactive until its PropertiesChanged
 * say otherwise — never Get its properties then (a Get on a unit systemd unloads meanwhile loads
 * it again: UnitNew, GC, UnitRemoved, Get … kept systemd, dbus-daemon and PID 1 at 100 % CPU);
 * and Service properties (MainPID, Result, ExecMainStatus) are read once per running or failed
 * service at a (re)connect, then follow from signals.
 */
import { signalName } from '../../base/signames.js';
import type { ServiceState, ServiceStatus, Target } from '../../base/states.js';
import type { AdapterEvent } from '../adapter.js';
import { dict, type SystemdBus } from './bus.js';
import { unitKind, type UnitView } from './states.js';

export const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
export const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';

export interface UnitRecord {
  view: UnitView;
  status?: ServiceStatus;
  /** falls into auto-restart seen since the instance started */
  restarts: number;
}

export type Observed = { state: ServiceState; target: Target; reason?: string };

export interface UnitTableOptions {
  instance: string;
  emit(ev: AdapterEvent): void;
  /** is this unit one of the instance's services (units:/exclude:)? */
  visible(name: string): boolean;
  /** the record's shared state, given the instance's phase */
  observe(rec: UnitRecord): Observed;
  /** metainit's pid for a pid of systemd's namespace (undefined when not found) */
  hostPid(nsPid: number): number | undefined;
  /** a unit systemd unloaded stays listed (stopped) when the tree still has it */
  keepWhenUnloaded(name: string): boolean;
  bus(): SystemdBus | undefined;
}

export class UnitTable {
  private readonly units = new Map<string, UnitRecord>();
  private readonly byPath = new Map<string, string>();

  constructor(private readonly o: UnitTableOptions) {}

  get(name: string): UnitRecord | undefined {
    return this.units.get(name);
  }

  records(): UnitRecord[] {
    return [...this.units.values()];
  }

  /** The record of `name`, made (inactive) when there is none yet. */
  record(name: string): UnitRecord {
    let rec = this.units.get(name);
    if (!rec) {
      rec = { view: { name, load: 'loaded', active: 'inactive', sub: 'dead' }, restarts: 0 };
      this.units.set(name, rec);
    }
    return rec;
  }

  /** Every unit systemd has loaded, then the Service properties of the live services. */
  async listUnits(bus: SystemdBus): Promise<void> {
    const [rows] = (await bus.manager('ListUnits')) as [unknown[][]];
    const seen = new Set<string>();
    for (const r of rows ?? []) {
      const [name, , load, active, sub, , path] = r as string[];
      if (!name || !this.o.visible(name)) continue;
      seen.add(name);
      this.byPath.set(path!, name);
      Object.assign(this.record(name).view, { load, active, sub, path });
    }
    for (const [name, rec] of this.units) if (!seen.has(name)) Object.assign(rec.view, { active: 'inactive', sub: 'dead', path: undefined });
    await Promise.all(this.records().filter((r) => unitKind(r.view.name) === 'service' && r.view.path && r.view.active !== 'inactive').map((r) => this.fetchService(r)));
    this.refreshAll();
  }

  /** Service.MainPID, Result, ExecMainCode/Status of one (loaded) service. */
  async fetchService(rec: UnitRecord): Promise<void> {
    const bus = this.o.bus();
    if (!bus || !rec.view.path) return;
    const p = await bus.getAll(rec.view.path, SERVICE_IFACE).catch(() => undefined);
    if (p) this.applyServiceProps(rec, p);
  }

  unitNew(name: string, path: string): void {
    if (!this.o.visible(name)) return;
    this.byPath.set(path, name);
    const rec = this.record(name);
    Object.assign(rec.view, { path, load: 'loaded', active: 'inactive', sub: 'dead' });
    this.refresh(rec);
  }

  unitRemoved(name: string, path: string): void {
    this.byPath.delete(path);
    const rec = this.units.get(name);
    if (!rec) return;
    if (this.o.keepWhenUnloaded(name)) {
      Object.assign(rec.view, { active: 'inactive', sub: 'dead', path: undefined, mainPid: 0 });
      this.refresh(rec);
      return;
    }
    this.units.delete(name);
    if (rec.status) this.o.emit({ type: 'state', status: { ...rec.status, state: 'stopped', target: 'down', reason: 'unit removed', pid: undefined, since: Date.now() } });
  }

  /** PropertiesChanged(iface, changed, invalidated) on a unit object. */
  propertiesChanged(path: string, body: unknown[]): void {
    const name = this.byPath.get(path);
    const rec = name ? this.units.get(name) : undefined;
    if (!rec) return;
    const [iface, changed, invalidated] = body as [string, unknown, string[] | undefined];
    const props = dict(changed);
    if (iface === UNIT_IFACE) {
      this.applyUnitProps(rec, props);
      // the unit is loaded (it just signalled): asking for what was only invalidated is safe
      if ((invalidated ?? []).some((p) => p === 'ActiveState' || p === 'SubState')) void this.o.bus()?.getAll(path, UNIT_IFACE).then((p) => this.applyUnitProps(rec, p), () => undefined);
    } else if (iface === SERVICE_IFACE) {
      this.applyServiceProps(rec, props);
      this.refresh(rec);
    }
  }

  private applyUnitProps(rec: UnitRecord, p: Record<string, unknown>): void {
    const v = rec.view;
    const was = v.active;
    if (typeof p.ActiveState === 'string') v.active = p.ActiveState;
    if (typeof p.SubState === 'string') v.sub = p.SubState;
    if (typeof p.LoadState === 'string') v.load = p.LoadState;
    if (v.active === 'activating' && v.sub === 'auto-restart' && was !== 'activating') rec.restarts++;
    if (v.active === 'failed' && unitKind(v.name) === 'service') void this.fetchService(rec).then(() => this.refresh(rec));
    this.refresh(rec);
  }

  private applyServiceProps(rec: UnitRecord, p: Record<string, unknown>): void {
    if (typeof p.MainPID === 'number') rec.view.mainPid = p.MainPID;
    if (typeof p.Result === 'string') rec.view.result = p.Result;
    if (typeof p.ExecMainCode === 'number') rec.view.execCode = p.ExecMainCode;
    if (typeof p.ExecMainStatus === 'number') rec.view.execStatus = p.ExecMainStatus;
  }

  /** systemd is gone: every unit is dead, no pid. */
  allDead(): void {
    for (const rec of this.units.values()) Object.assign(rec.view, { active: 'inactive', sub: 'dead', mainPid: 0, path: undefined });
    this.byPath.clear();
  }

  /** The record's status now; a state event when it changed. */
  refresh(rec: UnitRecord): ServiceStatus {
    const obs = this.o.observe(rec);
    const prev = rec.status;
    const v = rec.view;
    const pid = v.mainPid && v.mainPid > 0 ? this.o.hostPid(v.mainPid) : undefined;
    if (prev && prev.state === obs.state && prev.target === obs.target && prev.reason === obs.reason && prev.pid === pid && prev.restarts === rec.restarts) return prev;
    // ExecMainCode: 1 exited (status = exit code), 2 killed, 3 dumped (status = signal number)
    const lastExit = v.execCode === 1 ? { code: v.execStatus ?? 0, signal: null } : v.execCode && v.execCode > 1 && v.execStatus ? { code: null, signal: signalName(v.execStatus) } : undefined;
    rec.status = {
      id: `${this.o.instance}/${v.name}`,
      instance: this.o.instance,
      name: v.name,
      adapter: 'systemd',
      state: obs.state,
      target: obs.target,
      ...(obs.reason !== undefined ? { reason: obs.reason } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(lastExit ? { lastExit } : {}),
      since: prev?.state === obs.state ? prev.since : Date.now(),
      restarts: rec.restarts,
      oneshot: obs.state === 'ok',
      kind: unitKind(v.name),
      after: [],
    };
    this.o.emit({ type: 'state', status: rec.status });
    return rec.status;
  }

  refreshAll(): void {
    for (const rec of this.units.values()) this.refresh(rec);
  }

  /** Every record's status, in name order. */
  list(): ServiceStatus[] {
    return [...this.units.keys()].sort().map((n) => this.refresh(this.units.get(n)!));
  }
}
