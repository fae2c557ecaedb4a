package io.chronik.compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Apache Kafka Java client over SASL_SSL against a Chronik broker (scripts/security.sh runs it).
 *
 * <p>Usage: {@code SaslCompat BOOTSTRAP MECHANISM USER PASSWORD CA_PEM}. Creates a topic,
 * produces records with acks=all (idempotent), reads them back with assign + seekToBeginning, and
 * checks that a wrong password is refused with SaslAuthenticationException. Prints PASS/FAIL per
 * check and "N passed, N failed"; exit status 1 if anything failed.
 */
public final class SaslCompat {
  private static int passed;
  private static int failed;

  public static void main(String[] args) throws Exception {
    if (args.length != 5) {
      System.err.println("usage: SaslCompat BOOTSTRAP MECHANISM USER PASSWORD CA_PEM");
      System.exit(2);
    }
    String bootstrap = args[0], mech = args[1], user = args[2], pass = args[3], ca = args[4];
    String topic = "java-sasl-" + Long.toHexString(System.nanoTime());
    int n = 200;

    Properties base = props(bootstrap, mech, user, pass, ca);
    try (Admin admin = Admin.create(base)) {
      admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
      pass("java SASL_SSL " + mech + ": AdminClient createTopics");
    } catch (Exception e) {
      fail("java SASL_SSL " + mech + ": AdminClient createTopics", e);
    }

    Properties pp = props(bootstrap, mech, user, pass, ca);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
      List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        fs.add(p.send(new ProducerRecord<>(topic, 0, null, ("v" + i).getBytes(StandardCharsets.UTF_8))));
      }
      p.flush();
      for (int i = 0; i < n; i++) {
        long off = fs.get(i).get(30, TimeUnit.SECONDS).offset();
        if (off != i) {
          throw new IllegalStateException("record " + i + " got offset " + off);
        }
      }
      pass("java SASL_SSL " + mech + ": produce " + n + " records acks=all idempotent");
    } catch (Exception e) {
      fail("java SASL_SSL " + mech + ": produce", e);
    }

    Properties cp = props(bootstrap, mech, user, pass, ca);
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
      TopicPartition tp = new TopicPartition(topic, 0);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      int got = 0;
      long deadline = System.currentTimeMillis() + 30_000;
      while (got < n && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
          String v = new String(r.value(), StandardCharsets.UTF_8);
          if (!v.equals("v" + got) || r.offset() != got) {
            throw new IllegalStateException("at " + got + " read offset " + r.offset() + " value " + v);
          }
          got++;
        }
      }
      if (got != n) {
        throw new IllegalStateException("read " + got + " of " + n + " records");
      }
      pass("java SASL_SSL " + mech + ": consume " + n + " records back in order");
    } catch (Exception e) {
      fail("java SASL_SSL " + mech + ": consume", e);
    }

    Properties bad = props(bootstrap, mech, user, pass + "-wrong", ca);
    try (Admin admin = Admin.create(bad)) {
      admin.listTopics().names().get(30, TimeUnit.SECONDS);
      fail("java SASL_SSL " + mech + ": wrong password refused", new IllegalStateException("listTopics succeeded"));
    } catch (ExecutionException e) {
      if (e.getCause() instanceof SaslAuthenticationException) {
        pass("java SASL_SSL " + mech + ": wrong password refused (" + e.getCause().getMessage() + ")");
      } else {
        fail("java SASL_SSL " + mech + ": wrong password refused", e.getCause());
      }
    } catch (Exception e) {
      fail("java SASL_SSL " + mech + ": wrong password refused", e);
    }

    System.out.println(passed + " passed, " + failed + " failed");
    System.exit(failed == 0 ? 0 : 1);
  }

  private static Properties props(String bootstrap, String mech, String user, String pass, String ca) {
    Properties p = new Properties();
    p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_SSL");
    p.put(SaslConfigs.SASL_MECHANISM, mech);
    p.put(SaslConfigs.SASL_JAAS_CONFIG,
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
            + user + "\" password=\"" + pass + "\";");
    p.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
    p.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, ca);
    p.put(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, "20000");
    p.put(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    p.put(CommonClientConfigs.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
    return p;
  }

  private static void pass(String what) {
    passed++;
    System.out.println("PASS " + what);
  }

  private static void fail(String what, Throwable e) {
    failed++;
    System.out.println("FAIL " + what + ": " + e);
  }

  private SaslCompat() {}
}
