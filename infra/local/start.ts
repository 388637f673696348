// Placeholder until the local stack lands (issue 5): `npm start` exists and says so.
console.log("The local stack is not built yet: see README.md. `npm test` runs the test suite.");
