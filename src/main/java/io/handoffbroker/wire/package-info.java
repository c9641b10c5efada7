/**
 * The v1 wire format: framing, the protobuf envelope and its validation, the
 * refusal vocabulary and the value types every party of the protocol shares
 * (handoff tokens, semantic versions, Hello shape rules).
 *
 * <p>This package owns bytes, not sockets or threads: it reads from and writes to
 * streams and channels it is handed and never opens, closes or reconfigures them.
 * It must not depend on Spring, on the server, or on any SDK; the client and
 * backend SDKs and the broker all build on it. Every limit is checked before
 * memory is allocated for a frame, and every violation surfaces as a
 * {@link io.handoffbroker.wire.WireException} subclass that names the refusal
 * code the broker answers with.
 */
@NullMarked
package io.handoffbroker.wire;

import org.jspecify.annotations.NullMarked;
