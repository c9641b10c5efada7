/**
 * The performance benchmark: not part of the unit tests nor of the production jar.
 * Compiled and run only by the Maven profile {@code bench}; see docs/performance.md.
 *
 * <p>{@link io.handoffbroker.bench.Bench} is the orchestrator: it starts every other
 * process ({@link io.handoffbroker.bench.BenchChild} with a role), collects their
 * histograms and writes the report.
 */
package io.handoffbroker.bench;
