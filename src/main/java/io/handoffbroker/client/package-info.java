/**
 * Client SDK: connect to a service through the broker. {@link
 * io.handoffbroker.client.BrokerClient#connect(String, String)} sends the Hello,
 * interprets the reply, and returns a {@link io.handoffbroker.client.ServiceConnection}
 * to the backend, or throws {@link io.handoffbroker.client.BrokerRefusedException}
 * with the broker's refusal code, reason and retry hint.
 *
 * <p>Every blocking call is bounded by a configurable timeout. The caller owns the
 * returned connection and closes it. Depends on the wire and unix packages only.
 */
@NullMarked
package io.handoffbroker.client;

import org.jspecify.annotations.NullMarked;
