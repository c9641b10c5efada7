/**
 * The handoff: passing a client's open connection to its backend with
 * SCM_RIGHTS, instead of making the client reconnect (protocol sections 3 and 4).
 *
 * <p>{@link io.handoffbroker.handoff.HandoffOrchestrator} decides per Hello whether
 * to attempt, issues the one-time token ({@link io.handoffbroker.handoff.PendingHandoffs}),
 * borrows a pooled control connection ({@link io.handoffbroker.handoff.ControlConnectionPool}),
 * runs one {@link io.handoffbroker.handoff.WireHandoffDelivery} and applies the
 * ownership rule to its outcome. With an idle pooled connection all of it runs on
 * the event loop that read the Hello (through {@link io.handoffbroker.server.Reactor});
 * a delivery that must dial first runs on a worker.
 *
 * <p>Descriptor ownership, the rule everything here serves: the broker owns the
 * client connection until its descriptor reached the backend. If the attempt
 * fails before that, or the backend refuses explicitly and correctly, the broker
 * still owns it: it relays {@code accepted=false} and closes. Once the descriptor
 * reached the backend and the answer is anything but a timely, correlated
 * acceptance, ownership is ambiguous: the broker writes nothing more to the
 * client and releases only its own descriptor, never with {@code shutdown()},
 * never changing the socket's mode. A control connection whose last exchange
 * could leave an ACK in its stream is never reused.
 *
 * <p>Plain Java except for nothing: Spring wiring lives in the configuration
 * package; it must not reach into the event loop beyond
 * {@link io.handoffbroker.server.ClientConnection} and its
 * {@link io.handoffbroker.server.Reactor}, and nothing it runs there may block.
 */
@NullMarked
package io.handoffbroker.handoff;

import org.jspecify.annotations.NullMarked;
