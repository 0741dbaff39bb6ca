/** The smallest configuration document a section's tests add their YAML to: two buckets and one backend. */
export const BASE_DOCUMENT = `
buckets:
  - name: photos
    credentials: [{ access_key_id: photos-key, secret_access_key: photos-secret }]
  - name: archive
    credentials: [{ access_key_id: archive-key, secret_access_key: archive-secret }]
backends:
  - name: b1
    endpoint: https://s3.example.com
    bucket: real-bucket
    access_key_id: key
    secret_access_key: secret
`;
