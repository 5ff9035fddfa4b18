//! WebSub (W3C): every feed names the configured hub (`rel="hub"`, beside `rel="self"`), and
//! after a build that changed feeds the hub is told which (`hub.mode=publish`, one request per
//! changed feed URL, as hubs in the PubSubHubbub tradition take it), so subscribers get new
//! articles pushed instead of polling. A hub that does not answer is logged; it costs nothing
//! else (readers still poll).

use futures_util::StreamExt as _;
use url::Url;

/// Pings sent at once.
const AT_ONCE: usize = 4;

/// Tells `hub` that each of `topics` changed; returns the topics it did not take, with why.
pub async fn publish(client: &reqwest::Client, hub: &Url, topics: &[String]) -> Vec<(String, String)> {
    // Owned values in each request: the futures stay `Send` for any caller (a scheduler's job).
    futures_util::stream::iter(topics.to_vec())
        .map(|topic| {
            let (client, hub) = (client.clone(), hub.clone());
            async move {
                let form = [("hub.mode", "publish"), ("hub.url", topic.as_str())];
                match client.post(hub).form(&form).send().await {
                    Ok(r) if r.status().is_success() => None,
                    Ok(r) => Some((topic, format!("the hub answered {}", r.status()))),
                    Err(e) => Some((topic, format!("the hub cannot be reached: {e}"))),
                }
            }
        })
        .buffer_unordered(AT_ONCE)
        .filter_map(std::future::ready)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hub_that_cannot_be_reached_is_reported_per_topic() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let hub: Url = format!("http://127.0.0.1:{port}/hub").parse().unwrap();
        let topics = vec!["https://x.org/feeds/all.atom".to_owned(), "https://x.org/feeds/all.rss".to_owned()];
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(2)).build().unwrap();
        let mut refused: Vec<String> = publish(&client, &hub, &topics).await.into_iter().map(|(t, _)| t).collect();
        refused.sort();
        assert_eq!(refused, topics);
    }
}
