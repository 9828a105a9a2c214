/**
 * Goal: configuration changes as pure functions of (configuration, progress,
 * changes). Simple changes may alter at most one voter (raft thesis §4.1);
 * anything else goes through a joint configuration (§4.3) that must be left
 * explicitly; invalid requests (a second joint, a zero-voter joint, removing
 * every voter) come back as RaftError values and leave the tracker alone.
 * restoreConfState rebuilds the tracker from a ConfState (restart, snapshot)
 * and must round-trip every valid ConfState.
 *
 * Method: etcd-io/raft confchange/testdata/*.txt scripts run by a small
 * parser of that format (the expected progress lines drop etcd's
 * `commit=0`, a field our Progress does not have), the error cases one by
 * one, and fast-check properties (seed 1): etcd's TestConfChangeQuick (simple
 * changes one at a time and one joint change reach the same result) and
 * etcd's TestRestore (random valid ConfStates restore to themselves).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Raft } from '../raft.js';
import { MemoryStorage } from '../storage.js';
import { Progress } from '../tracker/progress.js';
import { configToString, ProgressTracker } from '../tracker/tracker.js';
import { ConfChangeType, emptyConfState, RaftError, RAFT_ERROR_CODES } from '../types.js';
import type { ConfChangeSingle, ConfState } from '../types.js';
import { newTestConfig } from '../testing/network.js';
import { Changer } from './changer.js';
import type { ChangeResult } from './changer.js';
import { restoreConfState } from './restore.js';

const FC = { seed: 1, numRuns: 500 } as const;

function describeTracker(t: { config: ProgressTracker['config']; progress: ReadonlyMap<number, Progress> }): string {
  const lines = [configToString(t.config)];
  for (const id of [...t.progress.keys()].sort((a, b) => a - b)) lines.push(`${id}: ${(t.progress.get(id) as Progress).toString()}`);
  return lines.join('\n');
}

/** etcd's confchange op syntax: v1 (add voter), l2 (add learner), r3 (remove). */
function parseOps(ops: string): ConfChangeSingle[] {
  return ops
    .split(/\s+/)
    .filter((s) => s !== '')
    .map((tok) => {
      const types: Record<string, ConfChangeType> = { v: ConfChangeType.AddNode, l: ConfChangeType.AddLearnerNode, r: ConfChangeType.RemoveNode };
      const changeType = types[tok[0] as string];
      assert.ok(changeType !== undefined, `bad op ${tok}`);
      return { changeType, nodeId: Number(tok.slice(1)) };
    });
}

/**
 * Runs an etcd confchange datadriven script. As in etcd, command i runs with
 * LastIndex = i (so `next` of a new member tells in which command it was added),
 * and a failed command leaves the tracker unchanged.
 */
function runScript(script: string): void {
  const blocks = script
    .split(/\n\s*\n/)
    .map((b) => b.split('\n').filter((line) => !line.startsWith('#')))
    .filter((b) => b.length > 0);
  const t = new ProgressTracker(10, 0);
  blocks.forEach((lines, idx) => {
    const sep = lines.indexOf('----');
    assert.ok(sep > 0, `block ${idx} has no ----`);
    const [cmd, ...args] = (lines[0] as string).split(' ');
    const ccs = parseOps(lines.slice(1, sep).join(' '));
    const want = lines.slice(sep + 1).join('\n');
    const ch = new Changer(t, idx);
    let res: ChangeResult | RaftError;
    switch (cmd) {
      case 'simple':
        res = ch.simple(ccs);
        break;
      case 'enter-joint':
        res = ch.enterJoint(args.includes('autoleave=true'), ccs);
        break;
      case 'leave-joint':
        assert.equal(ccs.length, 0);
        res = ch.leaveJoint();
        break;
      default:
        assert.fail(`unknown command ${cmd}`);
    }
    let got: string;
    if (res instanceof RaftError) {
      assert.equal(res.code, RAFT_ERROR_CODES.InvalidConfChange);
      got = res.message;
    } else {
      t.config = res.config;
      t.progress = res.progress;
      t.checkInvariants();
      got = describeTracker(t);
    }
    assert.equal(got, want, `block ${idx}: ${lines.slice(0, sep).join(' / ')}`);
  });
}

describe('Changer (etcd confchange testdata)', () => {
  test('simple_safety.txt', () => {
    runScript(`simple
l1
----
removed all voters

simple
v1
----
voters=(1)
1: StateProbe match=0 next=1

simple
v2 l3
----
voters=(1 2) learners=(3)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=2
3: StateProbe match=0 next=2 learner

simple
r1 v5
----
more than one voter changed without entering joint config

simple
r1 r2
----
removed all voters

simple
v3 v4
----
more than one voter changed without entering joint config

simple
l1 v5
----
more than one voter changed without entering joint config

simple
l1 l2
----
removed all voters

simple
l2 l3 l4 l5
----
voters=(1) learners=(2 3 4 5)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=2 learner
3: StateProbe match=0 next=2 learner
4: StateProbe match=0 next=8 learner
5: StateProbe match=0 next=8 learner

simple
r1
----
removed all voters

simple
r2 r3 r4 r5
----
voters=(1)
1: StateProbe match=0 next=1`);
  });

  test('simple_idempotency.txt', () => {
    runScript(`simple
v1
----
voters=(1)
1: StateProbe match=0 next=1

simple
v1
----
voters=(1)
1: StateProbe match=0 next=1

simple
v2
----
voters=(1 2)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=2

simple
l1
----
voters=(2) learners=(1)
1: StateProbe match=0 next=1 learner
2: StateProbe match=0 next=2

simple
l1
----
voters=(2) learners=(1)
1: StateProbe match=0 next=1 learner
2: StateProbe match=0 next=2

simple
r1
----
voters=(2)
2: StateProbe match=0 next=2

simple
r1
----
voters=(2)
2: StateProbe match=0 next=2

simple
v3
----
voters=(2 3)
2: StateProbe match=0 next=2
3: StateProbe match=0 next=7

simple
r3
----
voters=(2)
2: StateProbe match=0 next=2

simple
r3
----
voters=(2)
2: StateProbe match=0 next=2

simple
r4
----
voters=(2)
2: StateProbe match=0 next=2`);
  });

  test('simple_promote_demote.txt', () => {
    runScript(`# Set up three voters for this test.
simple
v1
----
voters=(1)
1: StateProbe match=0 next=1

simple
v2
----
voters=(1 2)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1

simple
v3
----
voters=(1 2 3)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1
3: StateProbe match=0 next=2

# Can atomically demote and promote without a hitch.
simple
l1 v1
----
voters=(1 2 3)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1
3: StateProbe match=0 next=2

# Can demote a voter.
simple
l2
----
voters=(1 3) learners=(2)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1 learner
3: StateProbe match=0 next=2

# Can atomically promote and demote the same voter.
simple
v2 l2
----
voters=(1 3) learners=(2)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1 learner
3: StateProbe match=0 next=2

# Can promote a voter.
simple
v2
----
voters=(1 2 3)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1
3: StateProbe match=0 next=2`);
  });

  test('zero.txt: node id zero is ignored', () => {
    runScript(`simple
v1 r0 v0 l0
----
voters=(1)
1: StateProbe match=0 next=1`);
  });

  test('joint_safety.txt', () => {
    runScript(`leave-joint
----
can't leave a non-joint config

enter-joint
----
can't make a zero-voter config joint

enter-joint
v1
----
can't make a zero-voter config joint

simple
v1
----
voters=(1)
1: StateProbe match=0 next=3

leave-joint
----
can't leave a non-joint config

# Can enter into joint config.
enter-joint
----
voters=(1)&&(1)
1: StateProbe match=0 next=3

enter-joint
----
config is already joint

leave-joint
----
voters=(1)
1: StateProbe match=0 next=3

leave-joint
----
can't leave a non-joint config

# Can enter again, this time with some ops.
enter-joint
r1 v2 v3 l4
----
voters=(2 3)&&(1) learners=(4)
1: StateProbe match=0 next=3
2: StateProbe match=0 next=9
3: StateProbe match=0 next=9
4: StateProbe match=0 next=9 learner

enter-joint
----
config is already joint

enter-joint
v12
----
config is already joint

simple
l15
----
can't apply simple config change in joint config

leave-joint
----
voters=(2 3) learners=(4)
2: StateProbe match=0 next=9
3: StateProbe match=0 next=9
4: StateProbe match=0 next=9 learner

simple
l9
----
voters=(2 3) learners=(4 9)
2: StateProbe match=0 next=9
3: StateProbe match=0 next=9
4: StateProbe match=0 next=9 learner
9: StateProbe match=0 next=14 learner`);
  });

  test('joint_autoleave.txt', () => {
    runScript(`simple
v1
----
voters=(1)
1: StateProbe match=0 next=1

# Autoleave is reflected in the config.
enter-joint autoleave=true
v2 v3
----
voters=(1 2 3)&&(1) autoleave
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1
3: StateProbe match=0 next=1

# Can't enter-joint twice, even if autoleave changes.
enter-joint autoleave=false
----
config is already joint

leave-joint
----
voters=(1 2 3)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1
3: StateProbe match=0 next=1`);
  });

  test('joint_idempotency.txt', () => {
    runScript(`simple
v1
----
voters=(1)
1: StateProbe match=0 next=1

enter-joint
r1 r2 r9 v2 v3 v4 v2 v3 v4 l2 l2 r4 r4 l1 l1
----
voters=(3)&&(1) learners=(2) learners_next=(1)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1 learner
3: StateProbe match=0 next=1

leave-joint
----
voters=(3) learners=(1 2)
1: StateProbe match=0 next=1 learner
2: StateProbe match=0 next=1 learner
3: StateProbe match=0 next=1`);
  });

  test('joint_learners_next.txt: a demoted voter waits in learners_next, keeping its progress', () => {
    runScript(`simple
v1
----
voters=(1)
1: StateProbe match=0 next=1

enter-joint
v2 l1
----
voters=(2)&&(1) learners_next=(1)
1: StateProbe match=0 next=1
2: StateProbe match=0 next=1

leave-joint
----
voters=(2) learners=(1)
1: StateProbe match=0 next=1 learner
2: StateProbe match=0 next=1`);
  });
});

describe('Changer error cases', () => {
  /** A tracker holding voters {1,2,3} and learner 4. */
  function base(): ProgressTracker {
    const t = new ProgressTracker(10, 0);
    restoreConfState(t, 1, { ...emptyConfState(), nodes: [1, 2, 3], learners: [4] });
    return t;
  }
  const before = (t: ProgressTracker): string => describeTracker(t);

  const cases: [string, (c: Changer) => ChangeResult | RaftError, string][] = [
    ['more than one voter changed simply', (c) => c.simple(parseOps('v5 v6')), 'more than one voter changed without entering joint config'],
    ['replacing a voter simply', (c) => c.simple(parseOps('r1 v5')), 'more than one voter changed without entering joint config'],
    ['promoting a learner and adding a voter simply', (c) => c.simple(parseOps('v4 v5')), 'more than one voter changed without entering joint config'],
    ['removing all voters simply', (c) => c.simple(parseOps('r1 r2 r3')), 'removed all voters'],
    ['removing all voters while entering joint', (c) => c.enterJoint(false, parseOps('r1 r2 r3')), 'removed all voters'],
    ['demoting all voters while entering joint', (c) => c.enterJoint(true, parseOps('l1 l2 l3')), 'removed all voters'],
    ['leaving a non-joint config', (c) => c.leaveJoint(), "can't leave a non-joint config"],
  ];
  for (const [name, op, msg] of cases) {
    test(`${name} is refused and changes nothing`, () => {
      const t = base();
      const snapshot = before(t);
      const res = op(new Changer(t, 5));
      assert.ok(res instanceof RaftError);
      assert.equal(res.code, RAFT_ERROR_CODES.InvalidConfChange);
      assert.equal(res.message, msg);
      assert.equal(before(t), snapshot);
    });
  }

  test('an already joint config cannot enter joint again, nor change simply', () => {
    const t = base();
    const res = new Changer(t, 5).enterJoint(false, parseOps('v5 r1'));
    assert.ok(!(res instanceof RaftError));
    t.config = res.config;
    t.progress = res.progress;
    const again = new Changer(t, 6).enterJoint(false, parseOps('v6'));
    assert.ok(again instanceof RaftError);
    assert.equal(again.message, 'config is already joint');
    const simple = new Changer(t, 6).simple(parseOps('v6'));
    assert.ok(simple instanceof RaftError);
    assert.equal(simple.message, "can't apply simple config change in joint config");
  });

  test('a zero-voter config cannot become joint', () => {
    const t = new ProgressTracker(10, 0);
    const res = new Changer(t, 0).enterJoint(false, parseOps('v1'));
    assert.ok(res instanceof RaftError);
    assert.equal(res.message, "can't make a zero-voter config joint");
  });

  test('the changer never mutates the live tracker, even on success', () => {
    const t = base();
    const snapshot = before(t);
    const res = new Changer(t, 5).enterJoint(true, parseOps('r1 v5 l2'));
    assert.ok(!(res instanceof RaftError));
    assert.equal(before(t), snapshot);
    res.progress.get(3)!.match = 99;
    assert.equal(t.progress.get(3)!.match, 0);
  });
});

/** etcd's rndConfChange generator: a random valid ConfState (never the empty one). */
const confStateArb: fc.Arbitrary<ConfState> = fc
  .record({
    nVoters: fc.integer({ min: 1, max: 5 }),
    nLearners: fc.integer({ min: 0, max: 4 }),
    nRemovedVoters: fc.integer({ min: 0, max: 2 }),
    retainedFrac: fc.integer({ min: 0, max: 5 }),
    learnersNextFrac: fc.integer({ min: 0, max: 2 }),
    autoLeave: fc.boolean(),
    seedPerm: fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 24, maxLength: 24 }),
  })
  .map(({ nVoters, nLearners, nRemovedVoters, retainedFrac, learnersNextFrac, autoLeave, seedPerm }) => {
    // A permutation of ids 1..2n, as rand.Perm.
    const n = 2 * (nVoters + nLearners + nRemovedVoters);
    const ids = Array.from({ length: n }, (_, i) => i + 1).sort((a, b) => (seedPerm[a - 1] as number) - (seedPerm[b - 1] as number) || a - b);
    const voters = ids.slice(0, nVoters);
    const learners = ids.slice(nVoters, nVoters + nLearners);
    const removed = ids.slice(nVoters + nLearners, nVoters + nLearners + nRemovedVoters);
    const nRetained = Math.min(retainedFrac, nVoters);
    const votersOutgoing = nRetained > 0 || removed.length > 0 ? [...voters.slice(0, nRetained), ...removed] : [];
    const learnersNext = removed.slice(0, Math.min(learnersNextFrac, removed.length));
    return { nodes: voters, learners, votersOutgoing, learnersNext, autoLeave: votersOutgoing.length > 0 && autoLeave };
  });

function sortedConfState(cs: ConfState): ConfState {
  const s = (a: readonly number[]): number[] => [...a].sort((x, y) => x - y);
  return { nodes: s(cs.nodes), learners: s(cs.learners), votersOutgoing: s(cs.votersOutgoing), learnersNext: s(cs.learnersNext), autoLeave: cs.autoLeave };
}

function restored(cs: ConfState): ConfState {
  const t = new ProgressTracker(20, 0);
  restoreConfState(t, 10, cs);
  t.checkInvariants();
  return t.confState();
}

describe('restoreConfState', () => {
  test('TestRestore unit cases', () => {
    for (const cs of [
      emptyConfState(),
      { ...emptyConfState(), nodes: [1, 2, 3] },
      { ...emptyConfState(), nodes: [1, 2, 3], learners: [4, 5, 6] },
      { ...emptyConfState(), nodes: [3, 1, 2], votersOutgoing: [2, 1], autoLeave: true },
    ]) {
      assert.deepEqual(restored(cs), sortedConfState(cs), JSON.stringify(cs));
    }
  });

  test('TestRestore: joint ConfStates whose outgoing voters are not all incoming voters round-trip (regression)', () => {
    // etcd's fourth unit case, and the simplest joint removal (voter 1). An
    // earlier restoreConfState forgot to remove the outgoing voters from the
    // incoming half and restored voters=(1 2 3)&&(1 2 3) for the second one.
    for (const cs of [
      { ...emptyConfState(), nodes: [1, 2, 3], learners: [5], votersOutgoing: [1, 2, 4, 6], learnersNext: [4] },
      { ...emptyConfState(), nodes: [2, 3], votersOutgoing: [1, 2, 3], autoLeave: true },
    ]) {
      assert.deepEqual(restored(cs), sortedConfState(cs), JSON.stringify(cs));
    }
  });

  test('a node restarting in a joint configuration that removes a voter starts with that configuration', () => {
    const s = new MemoryStorage();
    s.bootstrap({ ...emptyConfState(), nodes: [2, 3], votersOutgoing: [1, 2, 3], autoLeave: true });
    const r = new Raft(newTestConfig(2, [], 10, 1, s));
    assert.deepEqual(r.prs.confState(), { nodes: [2, 3], votersOutgoing: [1, 2, 3], learners: [], learnersNext: [], autoLeave: true });
  });

  test('property (etcd TestRestore): every random valid ConfState round-trips', () => {
    fc.assert(
      fc.property(confStateArb, (cs) => {
        assert.deepEqual(restored(cs), sortedConfState(cs));
      }),
      FC,
    );
  });
});

describe('TestConfChangeQuick', () => {
  test('property: simple changes one by one and one joint change (auto-leave or not) reach the same config', () => {
    // As etcd: the setup adds voter 1 plus up to 5 voters from 1..5; the
    // changes (1..9 of them) touch ids 2..10 only, so no config is voterless.
    const setupArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 }).map((ids) => [1, ...ids].map((id) => ({ changeType: ConfChangeType.AddNode, nodeId: id })));
    const ccArb = fc.array(
      fc.record({
        changeType: fc.constantFrom(ConfChangeType.AddNode, ConfChangeType.RemoveNode, ConfChangeType.AddLearnerNode),
        nodeId: fc.integer({ min: 2, max: 10 }),
      }),
      { minLength: 1, maxLength: 9 },
    );
    const install = (t: ProgressTracker, res: ChangeResult | RaftError): void => {
      assert.ok(!(res instanceof RaftError), res instanceof RaftError ? res.message : '');
      t.config = res.config;
      t.progress = res.progress;
    };
    const setUp = (setup: ConfChangeSingle[]): ProgressTracker => {
      const t = new ProgressTracker(10, 0);
      for (const cc of setup) install(t, new Changer(t, 10).simple([cc]));
      return t;
    };
    fc.assert(
      fc.property(setupArb, ccArb, (setup, ccs) => {
        const simple = setUp(setup);
        for (const cc of ccs) install(simple, new Changer(simple, 10).simple([cc]));
        for (const autoLeave of [false, true]) {
          const joint = setUp(setup);
          install(joint, new Changer(joint, 10).enterJoint(autoLeave, ccs));
          assert.equal(joint.config.autoLeave, autoLeave);
          install(joint, new Changer(joint, 10).leaveJoint());
          assert.equal(describeTracker(joint), describeTracker(simple));
        }
      }),
      FC,
    );
  });
});
