import { createRouter, createWebHistory } from 'vue-router';
import { demoRoutes } from './features/demo/routes.ts';

/** One router for the whole app; each feature contributes its routes (the admin panels come later). */
export const router = createRouter({
  history: createWebHistory('/demo/'),
  routes: [
    ...demoRoutes,
    { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./shared/pages/NotFoundPage.vue'), meta: { title: 'Page not found' } },
  ],
  scrollBehavior: () => ({ top: 0 }),
});

router.afterEach((to) => {
  const title = typeof to.meta['title'] === 'string' ? to.meta['title'] : null;
  document.title = title ? `${title} · Reusable Chat demo` : 'Reusable Chat demo';
});
