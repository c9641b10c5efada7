/**
 * Spring wiring at the edge: binds and validates {@code broker.*} from
 * {@code application.yml} (refusing keys it does not know from files and the command
 * line), builds the plain-Java broker from it, and ties the listener, the backend
 * prober and the demo service into the application's lifecycle (start before
 * traffic, drain on SIGTERM, liveness broken when the event loop fails or the
 * socket file is lost, and never made correct again by the file's return once the
 * loop failed). A start it
 * refuses is a {@code BrokerStartupException} naming the key, reported by its failure
 * analyzer as Spring Boot's "APPLICATION FAILED TO START" block.
 *
 * <p>It owns no protocol logic and no descriptor. The service catalog, the backend
 * prober and the router (the {@code HandoffOrchestrator}) are replaceable by a user bean of
 * that class ({@code @ConditionalOnMissingBean});
 * the listener, its drain state and the lifecycle are not.
 */
@NullMarked
package io.handoffbroker.config;

import org.jspecify.annotations.NullMarked;
