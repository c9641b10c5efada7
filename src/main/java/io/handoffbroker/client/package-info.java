/**
 * Client SDK: connect to a service through the broker. {@link
 * io.handoffbroker.client.BrokerClient#connect(String, String)} sends the Hello,
 * interprets the reply, and returns a {@link io.handoffbroker.client.ServiceConnection}
 * to the backend, or throws {@link io.handoffbroker.client.BrokerRefusedException}
 * with the broker's refusal code, reason and retry hint.
 *
 * <p>Every blocking call of the SDK is bounded by a configurable timeout. The caller owns the
 * returned connection and closes it; reads and writes on it are the caller's, unbounded until
 * it sets a timeout ({@code connection.socket().setSoTimeout}). A {@code BrokerClient} may be
 * shared by threads. Depends on the wire and unix packages (and junixsocket, protobuf and
 * SLF4J) only.
 */
@NullMarked
package io.handoffbroker.client;

import org.jspecify.annotations.NullMarked;
