//! Fault injection that touches a real service: the fulfillment vendor (in-process, port 0) and Kafka
//! (`OPSDECK_KAFKA_BROKERS`, default 127.0.0.1:59092; the test uses its own topic prefix and deletes the
//! topic afterwards).

use std::time::Duration;

use platform::faults::{end_any, end_fault, end_vendor_fault, list_faults, poison_event, vendor_fault, vendor_outage, FaultType};
use platform::testing::{delete_topics, kafka_brokers, spawn_vendor};
use platform::vendor::VendorMode;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_vendor_outage_makes_the_vendor_answer_503_until_it_is_ended(pool: PgPool) {
    let (state, vendor) = spawn_vendor(Duration::from_secs(2)).await;

    let fault = vendor_outage(&pool, &vendor, "drill:oscar").await.unwrap();
    assert_eq!(fault.fault_type, "VENDOR_OUTAGE");
    assert_eq!(state.mode(), VendorMode::Unavailable);
    let err = vendor.request_fulfillment("k-1", &serde_json::json!({})).await.unwrap_err();
    assert_eq!(err.status(), Some(503));

    let ended = end_vendor_fault(&pool, &vendor, fault.fault_id, "drill:oscar").await.unwrap();
    assert!(ended.ended_at.is_some());
    assert_eq!(state.mode(), VendorMode::Ok);
    assert!(list_faults(&pool, true).await.unwrap().is_empty());
    assert!(end_fault(&pool, fault.fault_id, "drill:oscar").await.is_err());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_partial_vendor_backorders_later_lines_until_the_fault_ends_and_then_ships_them(pool: PgPool) {
    let (state, vendor) = spawn_vendor(Duration::from_secs(2)).await;

    let fault = vendor_fault(&pool, &vendor, FaultType::VendorPartial, "drill:oscar").await.unwrap();
    assert_eq!(fault.fault_type, "VENDOR_PARTIAL");
    assert_eq!(fault.detail["mode"], "partial");
    assert_eq!(state.mode(), VendorMode::Partial);
    let first = vendor.request_fulfillment("k-line-1", &serde_json::json!({ "line_no": 1 })).await.unwrap();
    let second = vendor.request_fulfillment("k-line-2", &serde_json::json!({ "line_no": 2 })).await.unwrap();
    assert!(!first.backordered, "line 1 ships at once");
    assert!(second.backordered, "later lines wait");
    assert!(vendor.record("k-line-2").await.unwrap().unwrap().backordered);

    // Ended through the door every console fault uses: the vendor is told, the backorder ships.
    let ended = end_any(&pool, fault.fault_id, Some(&vendor), None, "drill:oscar").await.unwrap();
    assert!(ended.ended_at.is_some());
    assert_eq!(state.mode(), VendorMode::Ok);
    assert!(!vendor.record("k-line-2").await.unwrap().unwrap().backordered, "the backorder shipped");
    assert!(list_faults(&pool, true).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_rejecting_vendor_refuses_as_a_business_answer_until_the_fault_ends(pool: PgPool) {
    let (state, vendor) = spawn_vendor(Duration::from_secs(2)).await;

    let fault = vendor_fault(&pool, &vendor, FaultType::VendorRejection, "drill:oscar").await.unwrap();
    assert_eq!(fault.fault_type, "VENDOR_REJECTION");
    let err = vendor.request_fulfillment("k-r", &serde_json::json!({ "line_no": 1 })).await.unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(vendor.record("k-r").await.unwrap().unwrap().created, 0, "a refusal creates nothing");

    end_any(&pool, fault.fault_id, Some(&vendor), None, "drill:oscar").await.unwrap();
    assert_eq!(state.mode(), VendorMode::Ok);
    assert!(vendor.request_fulfillment("k-r", &serde_json::json!({ "line_no": 1 })).await.is_ok());
    // Not a vendor fault: refused, nothing recorded.
    assert!(vendor_fault(&pool, &vendor, FaultType::PauseRelay, "drill:oscar").await.is_err());
    assert_eq!(list_faults(&pool, false).await.unwrap().len(), 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_poison_event_lands_on_the_order_topic_where_the_record_says(pool: PgPool) {
    let prefix = format!("test.faults.{}.", Uuid::now_v7().simple());
    let fault = poison_event(&pool, &kafka_brokers(), &prefix, "drill:oscar").await.unwrap();
    let topic = format!("{prefix}order");
    assert_eq!(fault.detail["topic"], topic.as_str());
    let partition = fault.detail["partition"].as_i64().unwrap() as i32;
    let offset = fault.detail["offset"].as_i64().unwrap();

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("group.id", format!("test-faults-{}", Uuid::now_v7()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, partition, Offset::Offset(offset)).unwrap();
    consumer.assign(&tpl).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let payload = loop {
        assert!(std::time::Instant::now() < deadline, "the poison record did not come back");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            break m.payload().map(<[u8]>::to_vec).unwrap_or_default();
        }
    };
    assert!(serde_json::from_slice::<serde_json::Value>(&payload).is_err(), "a poison record must not parse");

    delete_topics(&[topic]).await;
}
