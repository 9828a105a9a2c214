/**
 * Goal: every raftstore scenario (TinyKV's 2B/2C tests and the store-level
 * HARD-CASES S1/S2) passes seeds 1..3 in `npm test`: TinyKV's own checks,
 * raft safety at every apply, linearizability of the whole history and
 * convergence. This file has the scenarios at odd positions of the list;
 * `npm run soak:sim` runs 200 seeds each.
 */
import { defineScenarioTests } from './_scenario_tests.js';

defineScenarioTests(1);
