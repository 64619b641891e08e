//! The baseline: the least an axum + sqlx service does for the same two operations, with the product's
//! default pool size.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use std::time::Duration;
use uuid::Uuid;

#[derive(Deserialize)]
struct NewCampaign {
    name: String,
    agent_id: String,
    phone_numbers: Vec<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

#[derive(Serialize)]
struct CampaignRow {
    id: String,
    name: String,
    agent_id: String,
    status: String,
    phone_numbers: Vec<String>,
    metadata: Value,
    created_at: DateTime<Utc>,
}

pub fn main(args: &[String]) {
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| panic!("bare-server needs {name}"))
    };
    let (bind, url) = (flag("--bind"), flag("--database-url"));
    let ping = !args.iter().any(|a| a == "--no-ping");
    // The same runtime as `#[tokio::main]` in the product.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(ping)
            .connect(&url)
            .await
            .expect("connect");
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bare_campaigns (
                id uuid PRIMARY KEY, name text NOT NULL, agent_id text NOT NULL, status text NOT NULL,
                phone_numbers text[] NOT NULL, metadata jsonb NOT NULL, created_at timestamptz NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("create table");
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/campaigns", post(create))
            .route("/campaigns/{id}", get(read))
            .with_state(pool);
        let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn create(
    State(pool): State<PgPool>,
    Json(body): Json<NewCampaign>,
) -> Result<(StatusCode, Json<CampaignRow>), StatusCode> {
    let mut metadata = body.metadata;
    metadata.entry("concurrency_limit").or_insert(Value::from(10));
    let row = CampaignRow {
        id: Uuid::now_v7().to_string(),
        name: body.name,
        agent_id: body.agent_id,
        status: "draft".into(),
        phone_numbers: body.phone_numbers,
        metadata: Value::Object(metadata),
        created_at: Utc::now(),
    };
    sqlx::query(
        "INSERT INTO bare_campaigns (id, name, agent_id, status, phone_numbers, metadata, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::parse_str(&row.id).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?)
    .bind(&row.name)
    .bind(&row.agent_id)
    .bind(&row.status)
    .bind(&row.phone_numbers)
    .bind(&row.metadata)
    .bind(row.created_at)
    .execute(&pool)
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok((StatusCode::CREATED, Json(row)))
}

async fn read(State(pool): State<PgPool>, Path(id): Path<String>) -> Result<Json<CampaignRow>, StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| StatusCode::NOT_FOUND)?;
    let row = sqlx::query(
        "SELECT id, name, agent_id, status, phone_numbers, metadata, created_at FROM bare_campaigns WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&pool)
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
    .ok_or(StatusCode::NOT_FOUND)?;
    let get = |e: sqlx::Error| {
        eprintln!("bad row: {e}");
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Ok(Json(CampaignRow {
        id: row.try_get::<Uuid, _>("id").map_err(get)?.to_string(),
        name: row.try_get("name").map_err(get)?,
        agent_id: row.try_get("agent_id").map_err(get)?,
        status: row.try_get("status").map_err(get)?,
        phone_numbers: row.try_get("phone_numbers").map_err(get)?,
        metadata: row.try_get("metadata").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
    }))
}
