/**
 * Hello negotiation: the decision a broker makes for one Hello, from the
 * refusal table of the protocol (draining, rate limit, envelope, shape, service,
 * version policy, backend state) to the backend a client is sent to.
 *
 * <p>Plain Java and pure decision logic: it reads no socket and owns no
 * descriptor. The server hands it a decoded frame and the kernel-verified peer,
 * and gets back either the backend to negotiate or the exact {@code Refused} to
 * send. Time is passed in, so rate-limit windows are tested without sleeping. It
 * must not depend on Spring, the server or the handoff machinery.
 */
@NullMarked
package io.handoffbroker.negotiation;

import org.jspecify.annotations.NullMarked;
