ALTER TABLE post
    ADD COLUMN url_content_type text;

