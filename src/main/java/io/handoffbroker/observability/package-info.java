/**
 * What operators see: Micrometer meters under the reference broker's names
 * ({@code running_process_broker_v1_*}), the {@code broker} and {@code backends}
 * health components, the {@code /actuator/broker} status document, and one log
 * line per Hello and per handoff.
 *
 * <p>It observes through {@link io.handoffbroker.server.BrokerEvents} and
 * {@link io.handoffbroker.handoff.HandoffEvents} and reads state through public
 * accessors; it never touches a socket or changes broker state. Label values are
 * bounded: a service or version no backend is configured for is reported as
 * {@code unknown}/{@code other}, so clients cannot create metric series at will.
 */
@NullMarked
package io.handoffbroker.observability;

import org.jspecify.annotations.NullMarked;
