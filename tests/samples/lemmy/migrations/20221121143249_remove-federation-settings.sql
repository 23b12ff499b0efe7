ALTER TABLE local_site
    DROP COLUMN federation_strict_allowlist;

ALTER TABLE local_site
    DROP COLUMN federation_http_fetch_retry_limit;

