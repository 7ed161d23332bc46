-- Errors stored before 0006 could hold a request URL, and with it the Xtream API key and a
-- subscriber's password (reqwest's error text names the URL). The worker now strips URLs;
-- this removes the ones already stored. Same statement in both dialects.

UPDATE sync_jobs
SET last_error = 'the panel could not be reached (the stored detail named a URL with secrets and was removed)'
WHERE last_error LIKE '%://%' OR last_error LIKE '%api_key=%' OR last_error LIKE '%password=%';
