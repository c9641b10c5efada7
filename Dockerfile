# handoff-broker container image.
#
#   docker build -t handoff-broker .
#   docker run -v handoff-broker-run:/run/handoff-broker -p 127.0.0.1:8080:8080 handoff-broker
#
# Clients reach the broker through the /run/handoff-broker volume. Under the default
# peer policy (same-uid) only processes running as uid 10001 are served; set
# BROKER_PEER_POLICY / BROKER_PEER_ALLOWED_UIDS otherwise. Mount a configuration with
# -v ...:/config and SPRING_CONFIG_ADDITIONAL_LOCATION=file:/config/application.yml;
# the built-in demo backend is on by default (BROKER_DEMO_ENABLED=false turns it off).
# The demo client runs inside the container as the same user:
#
#   docker exec <container> java --enable-native-access=ALL-UNNAMED
#       org.springframework.boot.loader.launch.JarLauncher demo-client --socket /run/handoff-broker/broker.sock
#   (one command line)
#
# Verification: the image has not been built end to end on the development machines
# (they have no container runtime). `./mvnw verify` runs what can be run without one
# (PackagedApplicationIT): it reads this file, extracts the packaged jar with the
# command below, lays out /app with the runtime stage's copies, starts the entry point
# with the image's configuration, runs the health check and the docker exec line
# above, and stops it with SIGTERM; in a second start, it checks that the health check
# fails once the socket file is removed. The base images and the broker user are not covered.

# ---- build -------------------------------------------------------------------
FROM eclipse-temurin:25-jdk AS build
WORKDIR /src

# The Maven wrapper downloads Maven itself.
COPY mvnw ./
COPY .mvn .mvn
COPY pom.xml ./
COPY proto proto
COPY src src
RUN ./mvnw -B -q package -DskipTests

# Split the fat jar into Spring Boot's layers (dependencies change less often than
# the application, so they stay cached) plus the launcher.
RUN java -Djarmode=tools -jar target/handoff-broker.jar extract --layers --launcher --destination /layers

# ---- runtime -----------------------------------------------------------------
FROM eclipse-temurin:25-jre

RUN groupadd --system --gid 10001 broker \
 && useradd --system --uid 10001 --gid broker --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin broker \
 && mkdir -p /run/handoff-broker \
 && chown broker:broker /run/handoff-broker \
 && chmod 0700 /run/handoff-broker

WORKDIR /app
COPY --from=build /layers/dependencies/ ./
COPY --from=build /layers/spring-boot-loader/ ./
COPY --from=build /layers/snapshot-dependencies/ ./
COPY --from=build /layers/application/ ./
# The broker's JVM options (heap, collector), shared with the README's run command.
COPY config/jvm.options /app/jvm.options
# The image's defaults (the socket in the volume below, the actuator on all interfaces),
# in the file Spring Boot reads from the working directory: a mounted configuration,
# environment variables and arguments all override them.
COPY config/container.yml /app/config/application.yml

# The broker socket lives in this volume (mode 0700, owned by the broker user; make it
# 0755 for peer policies other than same-uid).
VOLUME /run/handoff-broker
EXPOSE 8080

# Numeric, so that a runtime enforcing runAsNonRoot can tell it is not root without
# reading /etc/passwd (Kubernetes refuses a user name there unless runAsUser is set).
USER 10001:10001

# The JRE image has no HTTP client to rely on; bash's /dev/tcp is enough for a
# liveness request. Adjust the port if server.port is changed. It fails (no "UP") once
# liveness is BROKEN: the event loop failed, or the socket file was removed or replaced.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /actuator/health/liveness HTTP/1.0\r\n\r\n" >&3 && grep -q "\"UP\"" <&3'

# Exec form: java is PID 1 and receives SIGTERM, which starts the drain. Give
# `docker stop` a timeout above broker.shutdown-grace-period (default 5s).
# jvm.options also grants native access for junixsocket (the jar's manifest does
# this for `java -jar`, not for the extracted launcher).
ENTRYPOINT ["java", "@/app/jvm.options", "org.springframework.boot.loader.launch.JarLauncher"]
